"""Ended sign-ins reach every service at once: a disabled account's tokens are refused by the
gateway and by a service called directly or through it, without waiting for them to expire.

A real gateway and a real courses service, each served over HTTP, whose requests commit;
neither polls the revocation table here (an hour between polls), so only the NOTIFY can tell
them in time. Results are read back from the test's own connection.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text

from services.gateway.settings import GatewaySettings
from services.gateway.tokens import service
from services.gateway.tokens.models import RefreshToken
from shared import revocations
from shared.db import create_engine, sessionmaker
from shared.events.models import Revocation
from shared.revocations import RevocationList, RevocationWatcher
from shared.tokens import Principal, TokenError, TokenVerifier
from tests.events.support import wait_until
from tests.tokens.support import PASSWORD, World, bearer, committed, make_client, make_user, world

NO_POLL = {"revocations_poll_seconds": 3600}
# A hang guard, not a speed target (benchmarks measure the speed): NOTIFY takes milliseconds.
NOTIFY_BOUND = 5.0


@pytest.fixture(scope="module")
async def w(database_url: str) -> AsyncIterator[World]:
    async with world(database_url, courses_overrides=NO_POLL, **NO_POLL) as the_world:
        yield the_world


@pytest.fixture
async def http(w: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def _people(engine, *roles: str):
    async with committed(engine) as s:
        return [await make_user(s, role) for role in roles]


async def _password_sign_in(http: httpx.AsyncClient, w: World, username: str) -> dict:
    r = await http.post(f"{w.gateway_url}/auth/token", data={"grant_type": "password", "username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()


async def _patch_user(http: httpx.AsyncClient, w: World, admin_token: str, user_id: uuid.UUID, **changes) -> None:
    url = f"{w.gateway_url}/identity/users/{user_id}"
    etag = (await http.get(url, headers=bearer(admin_token))).headers["etag"]
    r = await http.patch(url, json=changes, headers={**bearer(admin_token), "If-Match": etag})
    assert r.status_code == 200, r.text


async def _known_everywhere(w: World, kind: str, subject: str, *, after: float) -> None:
    """Wait (bounded) until the gateway and courses have both heard of the revocation."""
    lists = (w.gateway_app.state.revocations, w.courses_app.state.revocations)
    await wait_until(
        lambda: all((lst.revoked_at(kind, subject) or 0) >= after for lst in lists),
        timeout=NOTIFY_BOUND, interval=0.005, what=f"the revocation of {kind} {subject}",
    )


def _calls(w: World, user_id: uuid.UUID) -> dict[str, str]:
    """Where a person's token is checked: the gateway's own routes, and courses directly and through the gateway."""
    return {
        "gateway /auth/me": f"{w.gateway_url}/auth/me",
        "gateway /identity/users/{self}": f"{w.gateway_url}/identity/users/{user_id}",
        "courses through the gateway": f"{w.gateway_url}/api/courses/whoami",
        "courses directly": f"{w.courses_url}/whoami",
    }


async def _statuses(http: httpx.AsyncClient, calls: dict[str, str], token: str) -> dict[str, int]:
    return {where: (await http.get(url, headers=bearer(token))).status_code for where, url in calls.items()}


async def _revocation_row(engine, kind: str, subject: str) -> Revocation | None:
    async with engine.connect() as conn:
        return (await conn.execute(select(Revocation).where(Revocation.kind == kind, Revocation.subject == subject))).one_or_none()


async def test_a_disabled_account_is_refused_everywhere_at_once_and_a_new_sign_in_works_once_enabled(w, http, engine):
    admin, student = await _people(engine, "admin", "student")
    admin_token = (await _password_sign_in(http, w, admin.username))["access_token"]
    tokens = await _password_sign_in(http, w, student.username)
    calls = _calls(w, student.id)
    assert set((await _statuses(http, calls, tokens["access_token"])).values()) == {200}
    before = time.time()

    await _patch_user(http, w, admin_token, student.id, disabled=True)
    await _known_everywhere(w, "user", str(student.id), after=before)

    # The very next call, with a token each process has verified (and cached) already.
    assert await _statuses(http, calls, tokens["access_token"]) == dict.fromkeys(calls, 401)
    r = await http.get(f"{w.courses_url}/whoami", headers=bearer(tokens["access_token"]))
    assert r.json()["code"] == "invalid_token" and 'error="invalid_token"' in r.headers["www-authenticate"]
    refreshed = await http.post(f"{w.gateway_url}/auth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401
    # What was committed, read on another connection: the revocation and the revoked refresh token.
    row = await _revocation_row(engine, "user", str(student.id))
    assert row is not None and row.reason == "account_disabled" and before <= row.revoked_at.timestamp() <= time.time()
    async with engine.connect() as conn:
        left = (await conn.execute(select(RefreshToken).where(RefreshToken.user_id == student.id, RefreshToken.revoked_at.is_(None)))).all()
    assert left == []

    await _patch_user(http, w, admin_token, student.id, disabled=False)
    again = await _password_sign_in(http, w, student.username)
    assert set((await _statuses(http, calls, again["access_token"])).values()) == {200}
    # The old token stays refused: enabling the account again does not bring back its old sign-ins.
    assert set((await _statuses(http, calls, tokens["access_token"])).values()) == {401}


async def test_a_reset_password_ends_the_sign_ins_made_with_the_old_one(w, http, engine):
    admin, mentor = await _people(engine, "admin", "mentor")
    admin_token = (await _password_sign_in(http, w, admin.username))["access_token"]
    old = await _password_sign_in(http, w, mentor.username)
    before = time.time()

    await _patch_user(http, w, admin_token, mentor.id, password="a brand new long password")
    await _known_everywhere(w, "user", str(mentor.id), after=before)

    assert set((await _statuses(http, _calls(w, mentor.id), old["access_token"])).values()) == {401}
    assert (await _revocation_row(engine, "user", str(mentor.id))).reason == "password_reset"
    # The admin's own sign-in is untouched.
    assert (await http.get(f"{w.courses_url}/whoami", headers=bearer(admin_token))).status_code == 200


async def _client_token(http: httpx.AsyncClient, w: World, client_id: str, secret: str) -> str:
    r = await http.post(f"{w.gateway_url}/auth/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


async def test_a_disabled_or_re_keyed_machine_client_is_refused_everywhere_at_once(w, http, engine):
    (admin,) = await _people(engine, "admin")
    admin_token = (await _password_sign_in(http, w, admin.username))["access_token"]
    async with committed(engine) as s:
        client, secret = await make_client(s, role="service")
    token = await _client_token(http, w, client.client_id, secret)
    courses = f"{w.courses_url}/whoami"
    assert (await http.get(courses, headers=bearer(token))).status_code == 200
    clients = f"{w.gateway_url}/auth/clients/{client.client_id}"

    before = time.time()
    assert (await http.patch(clients, json={"disabled": True}, headers=bearer(admin_token))).status_code == 200
    await _known_everywhere(w, "client", client.client_id, after=before)
    assert (await http.get(courses, headers=bearer(token))).status_code == 401
    assert (await _revocation_row(engine, "client", client.client_id)).reason == "client_disabled"

    assert (await http.patch(clients, json={"disabled": False}, headers=bearer(admin_token))).status_code == 200
    token = await _client_token(http, w, client.client_id, secret)
    assert (await http.get(courses, headers=bearer(token))).status_code == 200

    # A new secret: the tokens got with the old one (which may have leaked) stop working too.
    before = time.time()
    r = await http.post(f"{clients}/secret", headers=bearer(admin_token))
    assert r.status_code == 200, r.text
    await _known_everywhere(w, "client", client.client_id, after=before)
    assert (await http.get(courses, headers=bearer(token))).status_code == 401
    fresh = await _client_token(http, w, client.client_id, r.json()["client_secret"])
    assert (await http.get(courses, headers=bearer(fresh))).status_code == 200


async def test_a_person_and_a_machine_client_with_the_same_subject_are_told_apart(w, http, engine):
    """A client_id may look like a person's id; disabling the client must not sign the person out."""
    (admin, staff) = await _people(engine, "admin", "staff")
    admin_token = (await _password_sign_in(http, w, admin.username))["access_token"]
    async with committed(engine) as s:
        client, _ = await make_client(s, role="service", client_id=str(staff.id))
    person = await _password_sign_in(http, w, staff.username)

    before = time.time()
    r = await http.patch(f"{w.gateway_url}/auth/clients/{client.client_id}", json={"disabled": True}, headers=bearer(admin_token))
    assert r.status_code == 200, r.text
    await _known_everywhere(w, "client", client.client_id, after=before)

    assert (await http.get(f"{w.courses_url}/whoami", headers=bearer(person["access_token"]))).status_code == 200


async def test_a_listener_that_lost_its_connection_reconnects_and_hears_the_next_revocation(w, http, engine):
    watcher_list = w.courses_app.state.revocations
    reads = watcher_list.reads
    listener = w.courses_app.state.revocation_watcher.listener
    assert listener.backend_pid is not None
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": listener.backend_pid})
        await conn.commit()
    # A reconnect reads the table again: whatever was revoked while it was away is not missed.
    await wait_until(lambda: listener.reconnects >= 1 and watcher_list.reads > reads, timeout=NOTIFY_BOUND, what="the reconnect")

    admin, student = await _people(engine, "admin", "student")
    admin_token = (await _password_sign_in(http, w, admin.username))["access_token"]
    tokens = await _password_sign_in(http, w, student.username)
    before = time.time()
    await _patch_user(http, w, admin_token, student.id, disabled=True)
    await _known_everywhere(w, "user", str(student.id), after=before)
    assert (await http.get(f"{w.courses_url}/whoami", headers=bearer(tokens["access_token"]))).status_code == 401


# ---------------------------------------------------------------- the watcher and the list on their own


def _unreachable_url() -> str:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"postgresql://sprout@127.0.0.1:{port}/sprout"


async def test_without_notifications_the_poll_still_brings_revocations(database_url, engine):
    """The LISTEN connection cannot connect at all here; the slow poll alone keeps the list current."""
    db = create_engine(database_url, pool_size=1, max_overflow=0)
    known = RevocationList()
    watcher = RevocationWatcher(known, sessions=sessionmaker(db), url=_unreachable_url(), poll_seconds=0.2)
    subject = str(uuid.uuid4())
    try:
        await watcher.start()
        assert known.loaded and watcher.listener.backend_pid is None
        async with committed(engine) as s:
            await revocations.revoke(s, kind="user", subject=subject, reason="account_disabled")
        await wait_until(lambda: known.revoked_at("user", subject) is not None, timeout=NOTIFY_BOUND, what="the poll")
    finally:
        await watcher.stop()
        await db.dispose()


async def test_a_process_that_cannot_read_the_revocations_says_it_is_not_ready():
    unreachable = _unreachable_url()
    db = create_engine(unreachable, pool_size=1, max_overflow=0)
    readiness: dict = {}
    watcher = RevocationWatcher(RevocationList(), sessions=sessionmaker(db), url=unreachable, poll_seconds=3600, readiness=readiness)
    try:
        await watcher.start()
        assert "revocations" in readiness and not watcher.revocations.loaded
    finally:
        await watcher.stop()
        await db.dispose()


def _principal(kind: str, subject: str, issued_at: float) -> Principal:
    return Principal(id=subject, kind=kind, issued_at=issued_at, expires_at=issued_at + 900)


def test_a_revocation_refuses_the_tokens_issued_at_or_before_it_and_only_those():
    at = datetime(2026, 12, 1, 10, 0, 0, 250_000, tzinfo=UTC)
    known = RevocationList([("user", "u-1", at)])
    t = at.timestamp()
    assert known.refuses(_principal("user", "u-1", t - 600))
    assert known.refuses(_principal("user", "u-1", t))  # the same instant: refused
    assert known.refuses(_principal("user", "u-1", math.floor(t)))  # the same second, earlier
    assert not known.refuses(_principal("user", "u-1", t + 0.001))  # signed in again afterwards
    assert not known.refuses(_principal("user", "u-2", t - 600))
    assert not known.refuses(_principal("client", "u-1", t - 600))


async def test_a_token_signed_just_before_a_revocation_is_refused_and_one_just_after_is_not(gateway, session):
    """Within the same second: `iat` to the millisecond tells the two apart (an integer one could not)."""
    subject = str(uuid.uuid4())
    issuer, settings = gateway.app.state.token_issuer, gateway.app.state.settings
    before, _ = await issuer.access_token(subject=subject, kind="user", roles=["student"])
    await revocations.revoke(session, kind="user", subject=subject, reason="account_disabled")
    after, _ = await issuer.access_token(subject=subject, kind="user", roles=["student"])
    revoked_at = await session.scalar(select(Revocation.revoked_at).where(Revocation.subject == subject))
    verifier = TokenVerifier(
        gateway.app.state.keystore, issuer=settings.jwt_issuer, audience=settings.jwt_audience,
        revocations=RevocationList([("user", subject, revoked_at)]),
    )

    with pytest.raises(TokenError) as refused:
        await verifier.verify(before)
    assert refused.value.code == "invalid_token"
    assert (await verifier.verify(after)).id == subject


async def test_revocations_older_than_any_live_token_are_purged(session, database_url):
    settings = GatewaySettings(database_url=database_url, env="test")
    now = datetime.now(UTC)
    old, recent = str(uuid.uuid4()), str(uuid.uuid4())
    session.add_all([
        Revocation(kind="user", subject=old, revoked_at=now - timedelta(seconds=settings.access_token_ttl + 120), reason="account_disabled"),
        Revocation(kind="user", subject=recent, revoked_at=now - timedelta(seconds=settings.access_token_ttl - 60), reason="account_disabled"),
    ])
    await session.flush()

    done = await service.housekeeping(session, settings)

    assert done["revocations_purged"] >= 1
    left = set((await session.scalars(select(Revocation.subject).where(Revocation.subject.in_([old, recent])))).all())
    assert left == {recent}


async def test_revoking_twice_keeps_the_later_time(session):
    subject = str(uuid.uuid4())
    await revocations.revoke(session, kind="user", subject=subject, reason="account_disabled")
    first = await session.scalar(select(Revocation.revoked_at).where(Revocation.subject == subject))
    await revocations.revoke(session, kind="user", subject=subject, reason="password_reset")
    row = (await session.execute(select(Revocation.revoked_at, Revocation.reason).where(Revocation.subject == subject))).one()
    assert row.revoked_at >= first and row.reason == "password_reset"


async def test_the_revocation_table_notifies_on_its_own_channel(engine):
    async with engine.connect() as conn:
        triggers = (
            await conn.execute(
                text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'events.revocation'::regclass AND NOT tgisinternal")
            )
        ).scalars().all()
        body = await conn.scalar(text("SELECT prosrc FROM pg_proc WHERE proname = 'notify_revocation'"))
    assert triggers == ["revocation_notify"]
    assert "'sprout_revocations'" in body
