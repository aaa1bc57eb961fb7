"""Refresh-token rotation on a gateway served over HTTP whose requests really commit, read back from another connection.

Two tabs refreshing at once stay signed in (both get the same new refresh token), a client
retrying after a lost answer does too, and a refresh that fails after it began leaves the
token usable. Every other reuse still revokes the whole sign-in.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from services.gateway.app import create_app
from services.gateway.identity.models import UserAccount
from services.gateway.tokens import credentials
from services.gateway.tokens.models import RefreshToken
from shared import clock
from shared.clock import FrozenClock, use_clock
from tests.conftest import running_app
from tests.tokens.support import World, bearer, committed, gateway_settings, make_user, signed_in, world

REFRESH = {"grant_type": "refresh_token"}


@pytest.fixture(scope="module")
async def w(database_url: str) -> AsyncIterator[World]:
    async with world(database_url) as the_world:
        yield the_world


@pytest.fixture
async def http(w: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=w.gateway_url, timeout=10) as client:
        yield client


async def _signed_in(w: World, engine, *roles: str) -> tuple[uuid.UUID, dict]:
    """A committed person and the tokens of a fresh sign-in."""
    async with committed(engine) as s:
        user = await make_user(s, *(roles or ("student",)))
        tokens = await signed_in(w.gateway_app, s, user)
    return user.id, tokens


async def _family(engine, refresh_token: str) -> list[RefreshToken]:
    """The sign-in's refresh tokens as the database holds them now, read on a connection of the test's own."""
    async with engine.connect() as conn:
        family = select(RefreshToken.family_id).where(RefreshToken.token_hash == credentials.digest(refresh_token))
        rows = await conn.execute(select(RefreshToken).where(RefreshToken.family_id == family.scalar_subquery()).order_by(RefreshToken.issued_at))
        return list(rows.all())


async def _refresh(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post("/auth/token", data={**REFRESH, "refresh_token": token})


async def test_two_tabs_refreshing_at_once_both_stay_signed_in(w, engine):
    _, tokens = await _signed_in(w, engine)
    # Two tabs: two clients, so two connections to the server, sending at the same moment.
    async with httpx.AsyncClient(base_url=w.gateway_url, timeout=10) as tab1, httpx.AsyncClient(base_url=w.gateway_url, timeout=10) as tab2:
        first, second = await asyncio.gather(_refresh(tab1, tokens["refresh_token"]), _refresh(tab2, tokens["refresh_token"]))

        assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
        # The same successor for both, so the sign-in stays one line of tokens: no fork to steal.
        assert first.json()["refresh_token"] == second.json()["refresh_token"] != tokens["refresh_token"]
        assert first.json()["access_token"] != second.json()["access_token"]
        for answer in (first, second):
            assert (await tab1.get("/auth/me", headers=bearer(answer.json()["access_token"]))).status_code == 200

        family = await _family(engine, tokens["refresh_token"])
        assert len(family) == 2 and all(r.revoked_at is None for r in family)
        assert family[0].used_at is not None and family[0].replaced_by == family[1].id and family[1].used_at is None

        # Whichever tab refreshes next moves the sign-in on.
        assert (await _refresh(tab2, first.json()["refresh_token"])).status_code == 200


async def test_a_retry_within_the_grace_gets_the_same_successor_and_nothing_is_revoked(w, http, engine):
    _, tokens = await _signed_in(w, engine)
    first = await _refresh(http, tokens["refresh_token"])
    retry = await _refresh(http, tokens["refresh_token"])  # its answer was lost, say

    assert retry.status_code == 200, retry.text
    assert retry.json()["refresh_token"] == first.json()["refresh_token"]
    assert len(await _family(engine, tokens["refresh_token"])) == 2
    assert (await _refresh(http, retry.json()["refresh_token"])).status_code == 200


async def test_a_replay_once_the_successor_was_used_revokes_the_sign_in(w, http, engine):
    _, tokens = await _signed_in(w, engine)
    successor = (await _refresh(http, tokens["refresh_token"])).json()["refresh_token"]
    newest = (await _refresh(http, successor)).json()["refresh_token"]

    # Within the grace still, but the successor has been used: two parties hold this line.
    replay = await _refresh(http, tokens["refresh_token"])

    assert replay.status_code == 401 and replay.json()["code"] == "invalid_refresh_token"
    assert all(r.revoked_at is not None for r in await _family(engine, tokens["refresh_token"]))
    assert (await _refresh(http, newest)).status_code == 401


async def test_only_the_newest_used_token_has_a_grace(w, http, engine):
    _, tokens = await _signed_in(w, engine)
    successor = (await _refresh(http, tokens["refresh_token"])).json()["refresh_token"]
    await _refresh(http, successor)

    # The successor's own successor is unused, but the successor is not: no grace for its parent.
    assert (await _refresh(http, tokens["refresh_token"])).status_code == 401
    family = await _family(engine, tokens["refresh_token"])
    assert len(family) == 3 and all(r.revoked_at is not None for r in family)


async def test_a_replay_after_the_grace_revokes_the_sign_in(w, http, engine):
    _, tokens = await _signed_in(w, engine)
    fake = FrozenClock()
    with use_clock(fake):
        successor = (await _refresh(http, tokens["refresh_token"])).json()["refresh_token"]
        fake.advance(seconds=w.gateway_app.state.settings.refresh_token_reuse_grace + 0.5)

        replay = await _refresh(http, tokens["refresh_token"])

    assert replay.status_code == 401 and replay.json()["code"] == "invalid_refresh_token"
    assert all(r.revoked_at is not None for r in await _family(engine, tokens["refresh_token"]))
    assert (await _refresh(http, successor)).status_code == 401


async def test_a_disabled_account_gets_nothing_within_the_grace(w, http, engine):
    user_id, tokens = await _signed_in(w, engine)
    assert (await _refresh(http, tokens["refresh_token"])).status_code == 200
    async with committed(engine) as s:
        (await s.get(UserAccount, user_id)).disabled = True

    r = await _refresh(http, tokens["refresh_token"])

    assert r.status_code == 401 and r.json()["code"] == "invalid_refresh_token"


async def test_a_refresh_that_cannot_be_signed_leaves_the_token_usable(w, http, engine):
    _, tokens = await _signed_in(w, engine)
    # No key signs before the first key was made: the gateway cannot sign, as when every key
    # has been retired by mistake.
    with use_clock(FrozenClock(clock.now() - timedelta(days=3650))):
        failed = await _refresh(http, tokens["refresh_token"])
    assert failed.status_code == 503 and failed.json()["code"] == "not_ready", failed.text

    family = await _family(engine, tokens["refresh_token"])
    assert len(family) == 1 and family[0].used_at is None and family[0].revoked_at is None

    # Signing works again: the same token renews the sign-in, and the next refresh is no reuse.
    again = await _refresh(http, tokens["refresh_token"])
    assert again.status_code == 200, again.text
    assert (await _refresh(http, again.json()["refresh_token"])).status_code == 200


async def test_without_a_grace_every_reuse_revokes(database_url, session):
    app = create_app(gateway_settings(database_url, refresh_token_reuse_grace=0))
    async with running_app(app, session) as client:
        user = await make_user(session, "mentor")
        tokens = await signed_in(app, session, user)
        successor = (await _refresh(client, tokens["refresh_token"])).json()["refresh_token"]

        assert (await _refresh(client, tokens["refresh_token"])).status_code == 401
        assert (await _refresh(client, successor)).status_code == 401


def test_a_successor_is_unpredictable_without_the_key_and_repeatable_with_it():
    token, row = credentials.new_secret(), uuid.uuid4()
    key = b"k" * 32
    made = credentials.successor(key, token, row)
    assert made == credentials.successor(key, token, row)
    assert len(made) == len(credentials.new_secret()) == 43
    assert made not in {credentials.successor(b"x" * 32, token, row), credentials.successor(key, token, uuid.uuid4()),
                        credentials.successor(key, credentials.new_secret(), row)}
