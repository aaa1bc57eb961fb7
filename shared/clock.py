"""The one clock: `now()` in aware UTC, which tests replace with a `FrozenClock` they move by hand.

Everything that compares times for behaviour (an event's `available_at`, a claim window,
retention) reads this clock, never `datetime.now()`, so a 24-hour window is tested in
milliseconds. Code that waits on time (the event worker) watches the clock with
`on_change`, so moving a frozen clock wakes it at once instead of at its next poll.

The programme's days are its city's: `today()` is the date in China (ages, birthdays, a
meeting held "today").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, at: datetime | None = None) -> None:
        self._now = _aware(at) if at is not None else datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> datetime:
        self._now = _aware(at)
        _changed()
        return self._now

    def advance(self, delta: timedelta | None = None, /, **kwargs: float) -> datetime:
        """Move forward by `delta` or by timedelta keywords: `clock.advance(hours=24)`."""
        return self.set(self._now + (delta if delta is not None else timedelta(**kwargs)))


_clock: Clock = SystemClock()
_watchers: list[Callable[[], None]] = []


# China keeps one offset all year, so a fixed zone needs no time-zone database.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def now() -> datetime:
    return _clock.now()


def today() -> date:
    """Today on the programme's calendar (China's)."""
    return now().astimezone(CHINA).date()


def get_clock() -> Clock:
    return _clock


def set_clock(clock: Clock) -> Clock:
    """Install `clock` process-wide and return the previous one (a global, not a contextvar,
    so that tasks started before the swap, such as the event worker's loops, see it too)."""
    global _clock
    previous, _clock = _clock, clock
    _changed()
    return previous


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    previous = set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)


def on_change(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` whenever the clock is replaced or moved; returns the function that stops it."""
    _watchers.append(callback)
    return lambda: _watchers.remove(callback) if callback in _watchers else None


def _changed() -> None:
    for callback in list(_watchers):
        callback()


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("the clock holds aware datetimes only")
    return at.astimezone(UTC)
