"""Login throttling per account against password guessing, shared by every gateway replica.

After `max_failures` failed sign-ins the account is locked for `lockout`, and each further
failure after a lock locks it again for twice as long, up to `lockout_max`. Failures are
forgotten once a whole `window` passes with neither a failure nor a lock; a successful
sign-in forgets them at once. A locked account refuses even the right password, so a
guesser learns nothing during the lock. Usernames are throttled whether or not an account
exists, so the throttle does not tell which accounts do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.limits import repository
from services.gateway.limits.models import LoginThrottle
from services.gateway.settings import GatewaySettings


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int
    window: timedelta
    lockout: timedelta
    lockout_max: timedelta

    @classmethod
    def of(cls, settings: GatewaySettings) -> LoginPolicy:
        return cls(
            max_failures=settings.login_max_failures,
            window=timedelta(seconds=settings.login_failure_window),
            lockout=timedelta(seconds=settings.login_lockout),
            lockout_max=timedelta(seconds=settings.login_lockout_max),
        )


@dataclass(frozen=True)
class Failures:
    count: int
    first_at: datetime
    last_at: datetime
    locked_until: datetime | None


def forgotten(state: Failures, now: datetime, policy: LoginPolicy) -> bool:
    quiet_since = max(state.last_at, state.locked_until or state.last_at)
    return now - quiet_since > policy.window


def after_failure(state: Failures | None, now: datetime, policy: LoginPolicy) -> Failures:
    """The account's failures once one more has happened at `now`."""
    if state is None or state.count == 0 or forgotten(state, now, policy):
        state = Failures(0, now, now, None)
    count = state.count + 1
    locked_until = None
    if count >= policy.max_failures:
        doublings = min(count - policy.max_failures, 30)
        locked_until = now + min(policy.lockout * (2**doublings), policy.lockout_max)
    return Failures(count, state.first_at, now, locked_until)


def seconds_left(locked_until: datetime | None, now: datetime) -> int | None:
    """Whole seconds until the lock ends (at least 1), or None when the account is not locked."""
    if locked_until is None or locked_until <= now:
        return None
    return max(1, math.ceil((locked_until - now).total_seconds()))


def throttle_key(username: str) -> str:
    return username.strip().lower()


async def begin(session: AsyncSession, username: str, now: datetime) -> tuple[LoginThrottle, int | None]:
    """The account's throttle row, locked until this sign-in's transaction ends, and the seconds
    its lock has left (None: not locked).

    Holding the row while the password is checked makes concurrent guesses at one account
    take turns, so a burst of parallel guesses cannot all slip in before the lock is set.
    """
    row = await repository.for_update(session, throttle_key(username), now)
    return row, seconds_left(row.locked_until, now)


async def record_failure(session: AsyncSession, row: LoginThrottle, now: datetime, policy: LoginPolicy) -> Failures:
    state = Failures(row.failures, row.first_failure_at, row.last_failure_at, row.locked_until)
    new = after_failure(state, now, policy)
    row.failures, row.first_failure_at, row.last_failure_at, row.locked_until = new.count, new.first_at, new.last_at, new.locked_until
    await session.flush()
    return new


async def record_success(session: AsyncSession, row: LoginThrottle) -> None:
    await repository.clear(session, row.username)


async def forget_old(session: AsyncSession, now: datetime, policy: LoginPolicy) -> int:
    return await repository.delete_forgotten(session, now - policy.window)
