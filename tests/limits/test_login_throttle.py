"""Password guessing against one account is throttled, whichever gateway replica the guesses reach."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.gateway.app import create_app
from services.gateway.limits import login
from services.gateway.limits.login import Failures, LoginPolicy, after_failure, seconds_left
from services.gateway.limits.models import LoginThrottle
from shared.clock import FrozenClock, use_clock
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


@pytest.fixture
async def replicas(database_url, session) -> AsyncIterator[tuple]:
    """Two gateway replicas over the same database (and the test's transaction)."""
    settings = gateway_settings(database_url, login_max_failures=3, login_lockout=60, rate_limit_token_burst=100)
    async with running_app(create_app(settings), session) as a, running_app(create_app(settings), session) as b:
        yield a, b


async def test_guesses_on_two_replicas_lock_the_account_and_then_even_the_right_password_is_refused(replicas, session):
    a, b = replicas
    user = await make_user(session, "student")

    statuses = [(await sign_in(c, user.username, "wrong guess!")).status_code for c in (a, b, a)]
    assert statuses == [401, 401, 401]

    locked = await sign_in(b, user.username.upper())  # the right password, any spelling of the name
    assert locked.status_code == 429
    assert locked.headers["content-type"].startswith("application/problem+json")
    body = locked.json()
    assert body["code"] == "login_throttled" and body["error"] == "invalid_grant"
    assert 1 <= int(locked.headers["retry-after"]) <= 60
    # Another account is not affected.
    other = await make_user(session, "student")
    assert (await sign_in(a, other.username)).status_code == 200


async def test_the_lock_ends_and_a_success_forgets_the_failures(replicas, session):
    a, b = replicas
    user = await make_user(session, "guardian")
    later = FrozenClock()
    with use_clock(later):
        for c in (a, b, a):
            await sign_in(c, user.username, "wrong guess!")
        assert (await sign_in(b, user.username)).status_code == 429
        later.advance(seconds=61)
        assert (await sign_in(b, user.username)).status_code == 200
    row = await session.scalar(select(LoginThrottle).where(LoginThrottle.username == user.username.lower()))
    assert row is None


async def test_unknown_usernames_are_throttled_like_real_ones(replicas, session):
    a, _ = replicas
    for _ in range(3):
        await sign_in(a, "no-such-person", "guess")
    assert (await sign_in(a, "no-such-person", "guess")).json()["code"] == "login_throttled"


async def test_forgotten_failures_are_cleaned_up(session):
    for name, at in (("old-guesses", T0), ("recent-guesses", T0 + timedelta(minutes=30))):
        row, _ = await login.begin(session, name, at)
        await login.record_failure(session, row, at, POLICY)
    await login.forget_old(session, T0 + timedelta(minutes=31), POLICY)
    names = set((await session.scalars(select(LoginThrottle.username).where(LoginThrottle.username.in_(["old-guesses", "recent-guesses"])))).all())
    assert names == {"recent-guesses"}


async def test_parallel_guesses_take_turns_so_no_more_than_n_are_checked(database_url, engine):
    import asyncio

    from sqlalchemy import delete

    from services.gateway.identity.models import UserAccount
    from shared.db import sessionmaker

    async with sessionmaker(engine)() as s, s.begin():
        user = await make_user(s, "student")
    settings = gateway_settings(database_url, login_max_failures=3, login_lockout=60, rate_limit_token_burst=100)
    try:
        # Real transactions this time (no shared test session), as on a busy replica.
        async with running_app(create_app(settings)) as client:
            answers = await asyncio.gather(*(sign_in(client, user.username, f"guess number {i}") for i in range(6)))
        assert sorted(a.status_code for a in answers) == [401, 401, 401, 429, 429, 429]
    finally:
        async with sessionmaker(engine)() as s, s.begin():
            await s.execute(delete(LoginThrottle).where(LoginThrottle.username == user.username.lower()))
            await s.execute(delete(UserAccount).where(UserAccount.id == user.id))
