"""The role `service` is a machine client's: a person's token never confers it, whatever roles it names.

Identity never gives a person that role, so the tokens here are signed with the gateway's
own key, as a bug elsewhere or a hand-made token would be. The route is the real one our
services call (`GET /consents/check`, for admin, staff and service), on a gateway served
over HTTP; courses, verifying against the gateway's JWKS, shows what it believes of each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.tokens.support import World, bearer, committed, make_client, make_user, world


@pytest.fixture(scope="module")
async def w(database_url: str) -> AsyncIterator[World]:
    async with world(database_url) as the_world:
        yield the_world


@pytest.fixture(scope="module")
async def student_id(engine) -> str:
    async with committed(engine) as s:
        return str((await make_user(s, "student")).id)


async def _check(w: World, token: str, student_id: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(
            f"{w.gateway_url}/consents/check", params={"student_id": student_id, "purpose": "participation"},
            headers=bearer(token),
        )


async def _whoami_roles(w: World, token: str) -> list[str]:
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.get(f"{w.courses_url}/whoami", headers=bearer(token))
    assert r.status_code == 200, r.text
    return r.json()["roles"]


@pytest.mark.parametrize("roles", [["service"], ["service", "student"], ["guardian", "service", "partner"]])
async def test_a_persons_token_naming_the_service_role_does_not_pass_a_service_rule(w, student_id, roles):
    token = await w.mint(subject="3f8a8a5e-0000-4000-8000-0000000000aa", kind="user", roles=roles)

    r = await _check(w, token, student_id)

    assert r.status_code == 403, r.text
    assert r.json()["code"] == "forbidden"
    assert "service" not in await _whoami_roles(w, token)


async def test_the_same_person_keeps_the_roles_a_person_may_hold(w, student_id):
    token = await w.mint(subject="3f8a8a5e-0000-4000-8000-0000000000ab", kind="user", roles=["service", "staff"])
    assert (await _check(w, token, student_id)).status_code == 200
    assert await _whoami_roles(w, token) == ["staff"]


async def test_a_machine_clients_service_token_passes(w, engine, student_id):
    async with committed(engine) as s:
        client, secret = await make_client(s, role="service")
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(
            f"{w.gateway_url}/auth/token",
            data={"grant_type": "client_credentials", "client_id": client.client_id, "client_secret": secret},
        )
    token = r.json()["access_token"]

    checked = await _check(w, token, student_id)

    assert checked.status_code == 200, checked.text
    assert checked.json()["student_id"] == student_id
    assert await _whoami_roles(w, token) == ["service"]
