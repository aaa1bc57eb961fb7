"""Every request through the gateway is rate limited, per caller: by token when it has a valid one, by address before sign-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from services.gateway.app import create_app
from tests.conftest import running_app
from tests.limits.support import get_from
from tests.tokens.support import bearer, gateway_settings, world


@pytest.fixture(scope="module")
async def courses_url(database_url: str) -> AsyncIterator[str]:
    """A real courses service over HTTP; it verifies tokens against another gateway replica's JWKS
    (the replicas share their keys through the database)."""
    async with world(database_url) as w:
        yield w.courses_url


@asynccontextmanager
async def limited_gateway(database_url: str, courses_url: str, **limits) -> AsyncIterator[tuple]:
    # One request a minute after the burst: nothing refills while a test runs.
    settings = {
        "rate_limit_per_minute": 1, "rate_limit_burst": 3,
        "rate_limit_anonymous_per_minute": 1, "rate_limit_anonymous_burst": 3,
        "rate_limit_token_per_minute": 1, "rate_limit_token_burst": 2,
        **limits,
    }
    app = create_app(gateway_settings(database_url, courses_url=courses_url, **settings))
    async with running_app(app) as client:
        yield app, client


async def _token(app, *roles: str, subject: str = "u-1") -> str:
    token, _ = await app.state.token_issuer.access_token(subject=subject, kind="user", roles=list(roles) or ["staff"])
    return token


async def test_every_answer_carries_ratelimit_headers_and_the_one_past_the_limit_is_429(database_url, courses_url):
    async with limited_gateway(database_url, courses_url) as (app, client):
        answers = [await client.get("/.well-known/jwks.json") for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["ratelimit-limit"] for a in answers] == ["3"] * 4
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(int(a.headers["ratelimit-reset"]) > 0 for a in answers)
    refused = answers[-1]
    # One request a minute: about 60 s, less whatever the refill gave back while the test ran.
    wait = refused.headers["retry-after"]
    assert 30 < int(wait) <= 60
    assert refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert body["code"] == "rate_limited" and body["status"] == 429 and wait in body["detail"]
    assert refused.headers["x-request-id"] == body["request_id"]


async def test_proxied_requests_are_limited_too(database_url, courses_url):
    async with limited_gateway(database_url, courses_url) as (app, client):
        answers = [await client.get("/api/courses/healthz") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].json()["service"] == "courses"
    assert answers[1].headers["ratelimit-remaining"] == "1"
    assert answers[3].json()["code"] == "rate_limited"


async def test_a_signed_in_caller_has_a_bucket_of_their_own(database_url, courses_url):
    async with limited_gateway(database_url, courses_url) as (app, client):
        for _ in range(3):
            await client.get("/api/courses/healthz")
        assert (await client.get("/api/courses/healthz")).status_code == 429  # this address is spent

        alice, bob = await _token(app, subject="alice"), await _token(app, subject="bob")
        for_alice = [await client.get("/api/courses/whoami", headers=bearer(alice)) for _ in range(4)]
        assert [a.status_code for a in for_alice] == [200, 200, 200, 429]
        assert for_alice[0].json()["id"] == "alice"
        assert (await client.get("/api/courses/whoami", headers=bearer(bob))).status_code == 200


async def test_a_token_that_does_not_verify_counts_against_the_address(database_url, courses_url):
    async with limited_gateway(database_url, courses_url) as (app, client):
        good = await _token(app)
        forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
        answers = [await client.get("/api/courses/whoami", headers=bearer(forged)) for _ in range(4)]
        # Forwarded and refused by the service (401) while the address has requests left, then 429.
        assert [a.status_code for a in answers] == [401, 401, 401, 429]
        assert (await client.get("/api/courses/whoami", headers=bearer(good))).status_code == 200


async def test_the_token_endpoint_is_limited_per_address_more_tightly(database_url, courses_url):
    async with limited_gateway(database_url, courses_url) as (app, client):
        answers = [
            await client.post("/auth/token", data={"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"})
            for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [401, 401, 429]
        assert answers[0].headers["ratelimit-limit"] == "2"
        # The general bucket of the address is a different one.
        assert (await client.get("/.well-known/jwks.json")).status_code == 200


async def test_probes_are_never_limited(database_url, courses_url):
    async with limited_gateway(database_url, courses_url) as (app, client):
        answers = [await client.get("/healthz") for _ in range(6)]
    assert all(a.status_code == 200 and "ratelimit-limit" not in a.headers for a in answers)


async def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(database_url, courses_url):
    async with limited_gateway(database_url, courses_url) as (app, _):
        # Not trusted: a client cannot buy a fresh bucket by writing a new address.
        statuses = [(await get_from(app, "203.0.113.7", f"198.51.100.{i}")).status_code for i in range(4)]
        assert statuses == [200, 200, 200, 429]

    async with limited_gateway(database_url, courses_url, trusted_proxies=["10.0.0.0/8"]) as (app, _):
        # Behind the ingress (10.x): each client address has its own bucket...
        for i in range(4):
            assert (await get_from(app, "10.1.2.3", f"198.51.100.{i}")).status_code == 200
        # ...and what the client itself wrote to the left of the real address proves nothing.
        statuses = [(await get_from(app, "10.1.2.3", f"192.0.2.{i}, 198.51.100.99, 10.9.9.9")).status_code for i in range(4)]
        assert statuses == [200, 200, 200, 429]


async def test_limits_can_be_switched_off(database_url, courses_url):
    async with limited_gateway(database_url, courses_url, rate_limit_enabled=False) as (app, client):
        answers = [await client.get("/.well-known/jwks.json") for _ in range(6)]
    assert all(a.status_code == 200 and "ratelimit-limit" not in a.headers for a in answers)


async def test_each_replica_of_our_own_services_has_a_budget_of_its_own(database_url, courses_url):
    async with limited_gateway(database_url, courses_url, rate_limit_service_per_minute=1, rate_limit_service_burst=5) as (app, _):
        token, _ = await app.state.token_issuer.access_token(subject="courses", kind="client", roles=["service"])
        service = bearer(token)

        async def calls(peer: str, n: int) -> list[int]:
            return [(await get_from(app, peer, None, "/api/courses/whoami", **service)).status_code for _ in range(n)]

        # More than a person's burst (3): the service budget, not the general one.
        first_replica = await calls("10.4.0.11", 6)
        assert first_replica == [200] * 5 + [429]
        # The same service's other replica is not held back by the first.
        assert await calls("10.4.0.12", 5) == [200] * 5
        # Nor is a person signed in at the same address.
        person = bearer(await _token(app, subject="lin"))
        assert (await get_from(app, "10.4.0.11", None, "/api/courses/whoami", **person)).status_code == 200
        # A partner university's machine client is not one of our services: the general budget.
        partner, _ = await app.state.token_issuer.access_token(subject="uni", kind="client", roles=["partner"])
        answers = [(await get_from(app, "10.4.0.13", None, "/api/courses/whoami", **bearer(partner))).status_code for _ in range(4)]
        assert answers[-1] == 429
