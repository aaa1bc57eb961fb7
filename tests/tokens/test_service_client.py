"""A service calls another with its own client-credentials token, fetched from the gateway and reused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import delete

from services.courses.settings import CoursesSettings
from services.gateway.tokens.models import Client
from shared.db import sessionmaker
from shared.service_client import ServiceTokenError, ServiceTokenProvider
from tests.tokens.support import World, make_client, world


@pytest.fixture(scope="module")
async def w(database_url: str) -> AsyncIterator[World]:
    async with world(database_url) as the_world:
        yield the_world


@pytest.fixture
async def service_client(engine) -> AsyncIterator[tuple[str, str]]:
    """A committed machine client with role service (the gateway over HTTP reads it outside the test's transaction)."""
    async with sessionmaker(engine)() as s, s.begin():
        client, secret = await make_client(s, role="service", scopes=("students:read",))
    try:
        yield client.client_id, secret
    finally:
        async with sessionmaker(engine)() as s, s.begin():
            await s.execute(delete(Client).where(Client.client_id == client.client_id))


async def test_a_service_calls_another_with_its_own_token_and_reuses_it(w, service_client):
    client_id, secret = service_client
    settings = CoursesSettings(env="test", gateway_url=w.gateway_url, service_client_id=client_id, service_client_secret=secret)
    tokens = ServiceTokenProvider.from_settings(settings)
    try:
        async with httpx.AsyncClient(base_url=w.courses_url, auth=tokens, timeout=10) as http:
            answers = [await http.get("/whoami") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        me = answers[0].json()
        assert me["kind"] == "client" and me["id"] == client_id
        assert me["roles"] == ["service"] and me["scopes"] == ["students:read"]
        assert tokens.fetches == 1
    finally:
        await tokens.aclose()


async def test_a_401_from_the_callee_fetches_a_fresh_token_and_retries_once(w, service_client):
    client_id, secret = service_client
    tokens = ServiceTokenProvider(f"{w.gateway_url}/auth/token", client_id, secret)
    seen: list[str] = []

    async def callee(scope, receive, send) -> None:
        # A real ASGI app that refuses the first token it sees, as a service does with one it cannot verify.
        auth = dict(scope["headers"]).get(b"authorization", b"").decode()
        seen.append(auth)
        status = 401 if len(seen) == 1 else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=callee), base_url="http://callee", auth=tokens) as http:
            r = await http.get("/anything")
        assert r.status_code == 200
        assert tokens.fetches == 2
        assert len(seen) == 2 and seen[0] != seen[1] and all(s.startswith("Bearer ") for s in seen)
    finally:
        await tokens.aclose()


async def test_a_wrong_secret_or_no_client_at_all_is_a_clear_error(w, service_client):
    client_id, _ = service_client
    tokens = ServiceTokenProvider(f"{w.gateway_url}/auth/token", client_id, "wrong secret")
    try:
        with pytest.raises(ServiceTokenError, match="invalid_client"):
            await tokens.token()
    finally:
        await tokens.aclose()
    with pytest.raises(ServiceTokenError, match="SPROUT_SERVICE_CLIENT_ID"):
        ServiceTokenProvider.from_settings(CoursesSettings(env="test"))
