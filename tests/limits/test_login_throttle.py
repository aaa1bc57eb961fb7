"""Password guessing against one account is throttled, whichever gateway replica the guesses reach.

The replicas here are two gateway apps, each with its own engine and pool, so every sign-in
is a real transaction on its own connection and the row lock really is taken across them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.app import create_app
from services.gateway.identity.models import UserAccount
from services.gateway.limits import login
from services.gateway.limits.login import Failures, LoginPolicy, after_failure, seconds_left
from services.gateway.limits.models import LoginThrottle
from services.gateway.tokens.models import RefreshToken
from shared.clock import FrozenClock, use_clock
from shared.db import create_engine, sessionmaker
from tests.conftest import running_app
from tests.tokens.support import gateway_settings, login as sign_in, make_user

POLICY = LoginPolicy(
    max_failures=3, window=timedelta(minutes=15), lockout=timedelta(minutes=1), lockout_max=timedelta(minutes=10)
)
T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def _fail(times: list[datetime]) -> Failures | None:
    state = None
    for t in times:
        state = after_failure(state, t, POLICY)
    return state


def test_the_account_locks_at_the_nth_failure_and_each_further_failure_doubles_the_lock():
    assert _fail([T0, T0]).locked_until is None
    third = _fail([T0, T0, T0])
    assert third.count == 3 and third.locked_until == T0 + timedelta(minutes=1)
    fourth = after_failure(third, T0 + timedelta(minutes=2), POLICY)
    assert fourth.locked_until == T0 + timedelta(minutes=2) + timedelta(minutes=2)
    many = _fail([T0 + timedelta(minutes=i) for i in range(20)])
    assert many.locked_until == T0 + timedelta(minutes=19) + POLICY.lockout_max


def test_failures_are_forgotten_after_a_quiet_window_but_not_between_locks():
    quiet = _fail([T0, T0, T0 + timedelta(minutes=16)])
    assert quiet.count == 1 and quiet.locked_until is None
    locked = _fail([T0, T0, T0])  # locked until T0 + 1 min
    after_lock = after_failure(locked, T0 + timedelta(minutes=15), POLICY)
    assert after_lock.count == 4 and after_lock.locked_until is not None


def test_seconds_left_rounds_up():
    assert seconds_left(None, T0) is None
    assert seconds_left(T0, T0) is None
    assert seconds_left(T0 + timedelta(seconds=0.2), T0) == 1
    assert seconds_left(T0 + timedelta(seconds=59.5), T0) == 60


@dataclass
class Replicas:
    a: object
    b: object
    engine: AsyncEngine
    users: list

    async def user(self, *roles: str) -> UserAccount:
        """A committed person, removed with their throttle row and tokens when the test ends."""
        async with sessionmaker(self.engine)() as s, s.begin():
            user = await make_user(s, *roles)
        self.users.append(user)
        return user

    async def throttle(self, username: str) -> LoginThrottle | None:
        async with sessionmaker(self.engine)() as s:
            return await s.scalar(select(LoginThrottle).where(LoginThrottle.username == login.throttle_key(username)))


@pytest.fixture
async def replicas(database_url, engine) -> AsyncIterator[Replicas]:
    """Two gateway replicas over the same database, each with its own engine (so its own connections)."""
    settings = gateway_settings(database_url, login_max_failures=3, login_lockout=60, rate_limit_token_burst=100)
    users: list[UserAccount] = []
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(running_app(create_app(settings)))
        b = await stack.enter_async_context(running_app(create_app(settings)))
        try:
            yield Replicas(a, b, engine, users)
        finally:
            names = [login.throttle_key(u.username) for u in users] + ["no-such-person"]
            async with sessionmaker(engine)() as s, s.begin():
                await s.execute(delete(LoginThrottle).where(LoginThrottle.username.in_(names)))
                await s.execute(delete(RefreshToken).where(RefreshToken.user_id.in_([u.id for u in users])))
                await s.execute(delete(UserAccount).where(UserAccount.id.in_([u.id for u in users])))


async def test_guesses_on_two_replicas_lock_the_account_and_then_even_the_right_password_is_refused(replicas):
    a, b = replicas.a, replicas.b
    user = await replicas.user("student")

    statuses = [(await sign_in(c, user.username, "wrong guess!")).status_code for c in (a, b, a)]
    assert statuses == [401, 401, 401]

    locked = await sign_in(b, user.username.upper())  # the right password, any spelling of the name
    assert locked.status_code == 429
    assert locked.headers["content-type"].startswith("application/problem+json")
    body = locked.json()
    assert body["code"] == "login_throttled" and body["error"] == "invalid_grant"
    assert 1 <= int(locked.headers["retry-after"]) <= 60
    # Another account is not affected.
    other = await replicas.user("student")
    assert (await sign_in(a, other.username)).status_code == 200


async def test_the_lock_ends_and_a_success_forgets_the_failures(replicas):
    a, b = replicas.a, replicas.b
    user = await replicas.user("guardian")
    later = FrozenClock()
    with use_clock(later):
        for c in (a, b, a):
            await sign_in(c, user.username, "wrong guess!")
        assert (await sign_in(b, user.username)).status_code == 429
        later.advance(seconds=61)
        assert (await sign_in(b, user.username)).status_code == 200
    assert await replicas.throttle(user.username) is None


async def test_unknown_usernames_are_throttled_like_real_ones(replicas):
    for c in (replicas.a, replicas.b, replicas.a):
        await sign_in(c, "no-such-person", "guess")
    assert (await sign_in(replicas.b, "no-such-person", "guess")).json()["code"] == "login_throttled"


async def test_parallel_guesses_on_two_replicas_take_turns_so_no_more_than_n_are_checked(replicas):
    user = await replicas.user("student")
    answers = await asyncio.gather(
        *(sign_in(replicas.a if i % 2 else replicas.b, user.username, f"guess number {i}") for i in range(6))
    )
    assert sorted(a.status_code for a in answers) == [401, 401, 401, 429, 429, 429]
    assert (await replicas.throttle(user.username)).failures == 3


async def test_a_sign_in_waiting_on_the_throttle_row_survives_a_success_that_deletes_it(database_url, engine):
    """Two real connections: the first holds the account's row (checking a password); the second
    waits for it; the first signs in successfully, which deletes the row, and commits. The
    second must then find a fresh row, not fail (it was a 500)."""
    other_engine = create_engine(database_url, pool_size=1, max_overflow=0)
    name = f"race-{datetime.now(UTC).timestamp()}"
    try:
        async with sessionmaker(engine)() as first, sessionmaker(other_engine)() as second:
            await first.begin()
            row, locked = await login.begin(first, name, T0)
            await login.record_failure(first, row, T0, POLICY)
            await first.commit()

            await first.begin()
            row, _ = await login.begin(first, name, T0)
            waiting_pid = await second.scalar(text("SELECT pg_backend_pid()"))
            waiting = asyncio.create_task(login.begin(second, name, T0))
            await _until_waiting_on_a_lock(engine, waiting_pid, waiting)
            await login.record_success(first, row)
            await first.commit()

            async with asyncio.timeout(30):
                row, locked = await waiting
            assert (row.username, row.failures, locked) == (name, 0, None)
            await login.record_failure(second, row, T0, POLICY)
            await second.commit()
        async with sessionmaker(engine)() as s:
            assert (await s.scalar(select(LoginThrottle.failures).where(LoginThrottle.username == name))) == 1
    finally:
        await other_engine.dispose()
        async with sessionmaker(engine)() as s, s.begin():
            await s.execute(delete(LoginThrottle).where(LoginThrottle.username == name))


async def _until_waiting_on_a_lock(engine: AsyncEngine, pid: int, task: asyncio.Task) -> None:
    """Returns once backend `pid` waits for a lock (so the race is set up, not left to timing)."""
    async with asyncio.timeout(30), engine.connect() as conn:
        while True:
            if task.done():
                task.result()
                raise AssertionError("the second sign-in did not wait for the first")
            state = await conn.scalar(text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})
            await conn.rollback()
            if state == "Lock":
                return
            await asyncio.sleep(0.01)


async def test_forgotten_failures_are_cleaned_up(session):
    for name, at in (("old-guesses", T0), ("recent-guesses", T0 + timedelta(minutes=30))):
        row, _ = await login.begin(session, name, at)
        await login.record_failure(session, row, at, POLICY)
    await login.forget_old(session, T0 + timedelta(minutes=31), POLICY)
    names = set((await session.scalars(select(LoginThrottle.username).where(LoginThrottle.username.in_(["old-guesses", "recent-guesses"])))).all())
    assert names == {"recent-guesses"}
