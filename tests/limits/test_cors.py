"""CORS is configured at the gateway only: allowed origins get CORS headers, others none."""

from __future__ import annotations

import pytest

from services.gateway.app import create_app
from tests.conftest import running_app
from tests.tokens.support import gateway_settings

APP_ORIGIN = "https://app.sprout.example"


def _preflight(origin: str) -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}


async def test_a_preflight_from_an_allowed_origin_passes_and_from_another_gets_no_cors_headers(database_url):
    app = create_app(gateway_settings(database_url, cors_origins=[APP_ORIGIN]))
    async with running_app(app) as client:
        ok = await client.options("/api/courses/whoami", headers=_preflight(APP_ORIGIN))
        other = await client.options("/api/courses/whoami", headers=_preflight("https://evil.example"))

    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in ok.headers["access-control-allow-methods"]
    allowed_headers = ok.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    assert "access-control-allow-credentials" not in ok.headers
    assert "access-control-allow-origin" not in other.headers


async def test_answers_to_an_allowed_origin_expose_the_rate_limit_and_request_id(database_url):
    app = create_app(gateway_settings(database_url, cors_origins=[APP_ORIGIN], rate_limit_anonymous_burst=1, rate_limit_anonymous_per_minute=1))
    async with running_app(app) as client:
        first = await client.get("/.well-known/jwks.json", headers={"Origin": APP_ORIGIN})
        refused = await client.get("/.well-known/jwks.json", headers={"Origin": APP_ORIGIN})
        other = await client.get("/.well-known/jwks.json", headers={"Origin": "https://evil.example"})

    assert first.headers["access-control-allow-origin"] == APP_ORIGIN
    exposed = {h.strip().lower() for h in first.headers["access-control-expose-headers"].split(",")}
    assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after", "x-request-id"} <= exposed
    # A browser can read the 429 too, so the app can wait and retry.
    assert refused.status_code == 429 and refused.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(
    ("env", "origin", "allowed"),
    [("development", "http://localhost:5173", True), ("test", "http://localhost:5173", False), ("production", "http://localhost:5173", False)],
)
def test_local_dev_origins_are_allowed_in_development_only_by_default(env, origin, allowed):
    from services.gateway.settings import GatewaySettings

    settings = GatewaySettings.model_construct(env=env, cors_origins=None)
    assert (origin in settings.effective_cors_origins) is allowed
    if env == "production":
        assert settings.effective_cors_origins == []
