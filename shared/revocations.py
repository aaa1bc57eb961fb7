"""Ended sign-ins: the tokens every service refuses before they expire (an account disabled or its password reset, a machine client disabled or re-keyed).

The gateway writes one row per subject into `events.revocation` (every service's database
role may read the `events` schema) in the same transaction that disables the account, and a
trigger sends an empty NOTIFY on `sprout_revocations` when that transaction commits. Every
process keeps the rows in memory (`RevocationList`) and reads them again on each
notification, whenever its LISTEN connection (re)connects, and every
`SPROUT_REVOCATIONS_POLL_SECONDS` in case a notification was lost. So every replica of every
service refuses the token within milliseconds of the commit, and verifying a token costs a
dictionary lookup, never a query.

A row refuses the subject's tokens issued at or before `revoked_at` (their `iat`), and only
those: the new tokens of an account enabled again work at once. The gateway stamps both
times with its system clock (`iat` to the millisecond), so its replicas' clocks must agree
(NTP) to well within the time between a sign-in and a revocation. A row is purged by the
gateway once every token it refuses has expired.

The notification is only a wake-up call: its payload is ignored and the table is the truth,
so a stray NOTIFY (any database role may send one) causes a read and nothing else. A process
that cannot read the table keeps refusing what it knew, and one that has never read it
reports not ready (`/readyz`) until it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable, MutableMapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import begin_at_first_write
from shared.events.listener import Listener
from shared.events.models import REVOCATION_CHANNEL, Revocation
from shared.problems import ProblemError
from shared.tokens import Principal

log = logging.getLogger(__name__)

KNOWN = Gauge("sprout_revocations_known", "Ended sign-ins this process refuses (rows of events.revocation it last read).")
READS = Counter("sprout_revocations_reads_total", "Reads of events.revocation, by outcome.", ["outcome"])

APPLICATION_NAME = "sprout-revocations-listener"
# Bounds the first read at start: long enough for a healthy database, short enough that an
# unreachable one does not hold the process's start (liveness must not depend on it).
START_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
LISTEN_WAIT = 1.0
RETRY_FIRST = 0.1
RETRY_MAX = 5.0

USER = "user"
CLIENT = "client"


def system_now() -> datetime:
    # The system clock, not shared.clock: it is compared with tokens' `iat`, which the
    # issuer stamps with the system clock (services check `exp` against theirs).
    return datetime.fromtimestamp(time.time(), UTC)


async def revoke(session: AsyncSession, *, kind: str, subject: str, reason: str) -> None:
    """Refuse every token of `subject` issued until now, everywhere, once the caller's transaction commits."""
    stmt = pg_insert(Revocation).values(kind=kind, subject=subject, revoked_at=system_now(), reason=reason)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Revocation.kind, Revocation.subject],
        # A replica whose clock is behind must not move a later revocation back.
        set_={"revoked_at": func.greatest(Revocation.revoked_at, stmt.excluded.revoked_at), "reason": stmt.excluded.reason},
    )
    await session.execute(stmt)


async def purge(session: AsyncSession, *, before: datetime) -> int:
    """Drop the rows revoked before `before` (the gateway passes: longer ago than any token lives)."""
    result = await session.execute(delete(Revocation).where(Revocation.revoked_at < before))
    return result.rowcount or 0


class RevocationList:
    """The revocations this process knows, in memory: (kind, subject) -> revoked_at (epoch seconds)."""

    def __init__(self, rows: Iterable[tuple[str, str, datetime]] | None = None) -> None:
        self._revoked: dict[tuple[str, str], float] = {}
        self.loaded = False
        self.reads = 0  # times replaced: a watcher's reads
        if rows is not None:
            self.replace(rows)

    def refuses(self, principal: Principal) -> bool:
        revoked_at = self._revoked.get((principal.kind, principal.id))
        return revoked_at is not None and principal.issued_at <= revoked_at

    def revoked_at(self, kind: str, subject: str) -> float | None:
        return self._revoked.get((kind, subject))

    def replace(self, rows: Iterable[tuple[str, str, datetime]]) -> None:
        # One assignment: a request verifying meanwhile sees the old list or the new one.
        self._revoked = {(kind, subject): at.timestamp() for kind, subject, at in rows}
        self.loaded = True
        self.reads += 1

    def __len__(self) -> int:
        return len(self._revoked)


class RevocationWatcher:
    """Keeps a `RevocationList` current: reads the table on a NOTIFY, on (re)connect of its
    LISTEN connection, every `poll_seconds`, and again soon after a failed read."""

    def __init__(
        self,
        revocations: RevocationList,
        *,
        sessions: async_sessionmaker[AsyncSession],
        url: str,
        poll_seconds: float,
        readiness: MutableMapping[str, Any] | None = None,
    ) -> None:
        self.revocations = revocations
        self.sessions = sessions
        self.poll_seconds = poll_seconds
        self.readiness = readiness if readiness is not None else {}
        self._wake = asyncio.Event()
        self._failing = False
        self._task: asyncio.Task | None = None
        self.listener = Listener(
            url,
            on_notify=lambda _payload: self._wake.set(),
            on_connect=self._wake.set,
            channel=REVOCATION_CHANNEL,
            application_name=APPLICATION_NAME,
        )

    async def start(self) -> None:
        if not await self.read(timeout=START_TIMEOUT):
            self.readiness["revocations"] = _not_read_yet
        self._task = asyncio.create_task(self._run(), name="sprout-revocations")
        # The listener reads the table again whenever it connects, so nothing committed before
        # it listens is missed, and the start need not wait long for it (nor at all for a
        # database it could not read).
        await self.listener.start(wait=LISTEN_WAIT if self.revocations.loaded else 0)

    async def stop(self) -> None:
        await self.listener.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def read(self, *, timeout: float = READ_TIMEOUT) -> bool:
        """Read the table into the list; False (and the old list kept) when the database fails."""
        try:
            async with asyncio.timeout(timeout):
                async with self.sessions() as session:
                    begin_at_first_write(session)  # one SELECT: no BEGIN and ROLLBACK around it
                    rows = (await session.execute(select(Revocation.kind, Revocation.subject, Revocation.revoked_at))).all()
        except Exception as exc:  # the database may be down or failing over: keep what we know
            READS.labels("failed").inc()
            if not self._failing:
                log.warning("could not read the revocations; retrying", extra={"error": repr(exc)})
            self._failing = True
            return False
        self.revocations.replace(rows)
        READS.labels("ok").inc()
        KNOWN.set(len(rows))
        if self._failing:
            log.info("revocations read again", extra={"revocations": len(rows)})
        self._failing = False
        self.readiness.pop("revocations", None)
        return True

    async def _run(self) -> None:
        retry = RETRY_FIRST
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), retry if self._failing else self.poll_seconds)
            # Cleared before reading: a NOTIFY arriving during the read wakes the next one.
            self._wake.clear()
            if await self.read():
                retry = RETRY_FIRST
            else:
                retry = min(retry * 2, RETRY_MAX)


async def _not_read_yet(app) -> str:
    raise ProblemError("not_ready", reason="the revocation list has not been read yet (database unreachable)")


@asynccontextmanager
async def watch_revocations(
    revocations: RevocationList,
    *,
    sessions: async_sessionmaker[AsyncSession],
    url: str,
    poll_seconds: float,
    readiness: MutableMapping[str, Any] | None = None,
) -> AsyncIterator[RevocationWatcher]:
    """Keep `revocations` current while the block runs (a service's lifespan)."""
    watcher = RevocationWatcher(revocations, sessions=sessions, url=url, poll_seconds=poll_seconds, readiness=readiness)
    await watcher.start()
    try:
        yield watcher
    finally:
        await watcher.stop()
