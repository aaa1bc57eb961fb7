"""The consumer side of the event table: `Consumer` and `run_consumers`, the worker a service runs in its lifespan.

Each consumer gets one loop, and a loop takes each batch in two transactions:

1. The claim, one statement committed on its own (`events.claim_deliveries`, migration
   e0002): lock due deliveries with `FOR UPDATE SKIP LOCKED`, count each one's attempt,
   schedule its retry as if it were going to fail, and note the claim on the rows
   (`claim_id`, `claim_size`).
2. The handling: lock the rows again (those still carrying the claim's id), run each
   handler inside a SAVEPOINT, and mark it done in that same transaction: a handler's
   database effects commit together with its done mark, so a crash at any point rolls both
   back, and no effect happens twice. A handler that raises is rolled back to its savepoint
   and retried at its backoff; after `events_max_attempts` the delivery is dead and waits
   for `sprout events replay` (or `discard`).

Counting attempts. The attempt is committed before the handler runs, so a handler that
kills its process or its connection uses up attempts like one that raises, and is
dead-lettered at the limit instead of being claimed first forever; the retry scheduled at
the claim is when another claim (a replica, or the process a supervisor restarts) may take
it: the attempt's backoff, but never sooner than `events_claim_lease` after the claim, so a
replica that is merely slow (a loaded machine) keeps what it claimed. A handler that raises
is retried at its backoff from when it failed, whatever the lease. A claim whose process died with several deliveries in hand cannot tell which one killed
it, so none of them is charged for that attempt; each is then claimed alone, and a lone
attempt that dies is charged. A poison delivery so costs one batch and `max_attempts` lone
attempts, and the rest of its batch only the attempt that handles them. A handler abandoned
at shutdown (past the stop timeout) counts like one that died.

Order. Events of one subject reach a consumer in id order, across any number of replicas:
a delivery is claimable only when no earlier delivery of its subject is still owed, where
"owed" means due now or already attempted (a timer that is not yet due blocks nothing; a
failing delivery blocks its subject until it succeeds), or dead (a dead delivery holds its
subject until it is replayed or discarded). A process claims only the types it has
handlers for, and leaves a subject whose next delivery is of another type to the replicas
that have it, as during a rolling release.

Loops wake on a NOTIFY naming their consumer, at the earliest future `available_at` of
their deliveries (timers, retries), when the injected clock moves, and every
`events_poll_interval` seconds whatever happens.

Known limits, chosen with open eyes: "order" is id order, which is commit order only for
publishers that serialise on the aggregate (lock its row), as a service's transaction
normally does; a batch holds its row locks while its handlers run, so handlers should be
short database work; a batch costs two commits (the claim's does not wait for its WAL
flush); the claim's SQL is a database function, so changing it takes a migration; a claim
reads through the due deliveries that wait behind an owed or dead one of their subject, so
a long backlog of one subject or many held deliveries slow every claim (timers not yet due
are never read); and deliveries of a type that no process handles any more (its handler
removed, its subscription kept) stay pending and hold their subjects until an operator
deletes that subscription and those deliveries.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import BigInteger, Boolean, DateTime, Float, Integer, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from shared import clock
from shared.db import create_engine, sessionmaker
from shared.events import admin, contracts
from shared.events.listener import Listener
from shared.events.models import Subscription
from shared.settings import BaseServiceSettings
from shared.tracing import continue_trace, instrument_engine

log = logging.getLogger(__name__)

HANDLED = Counter("sprout_events_handled_total", "Deliveries handled successfully.", ["consumer"])
FAILED = Counter("sprout_events_failed_total", "Handler attempts that raised (each is retried or dead-lettered).", ["consumer"])
DEAD = Counter("sprout_events_dead_total", "Deliveries dead-lettered after their last attempt.", ["consumer"])
CLAIMS = Counter("sprout_events_claims_total", "Claim queries run.", ["consumer"])
HANDLER_SECONDS = Histogram(
    "sprout_events_handler_seconds",
    "Time spent in a handler, savepoint included.",
    ["consumer"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LAG_SECONDS = Histogram(
    "sprout_events_lag_seconds",
    "From a delivery's available_at to its handler starting.",
    ["consumer"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120, 600),
)

CONSUMER_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")
LAST_ERROR_MAX = 2000
STOP_TIMEOUT = 10.0
CLEANUP_EVERY = 3600.0


@dataclass(frozen=True)
class EventEnvelope:
    """What a handler receives: the event, its contract-validated payload, and which attempt this is."""

    event_id: uuid.UUID
    type: str
    version: int
    source: str
    subject: str
    payload: Any  # the contract model, or a dict when this process does not know the version
    occurred_at: datetime
    traceparent: str | None
    attempt: int
    delivery_id: int
    consumer: str


Handler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, Sequence[EventEnvelope]], Awaitable[None]]


@dataclass(frozen=True)
class Consumer:
    """A named consumer and its handler per event type. The name is the durable identity:
    its subscriptions outlive its processes, so it receives what is published while it is down.

    Handlers run inside the delivery's transaction: they `flush()`, never commit.
    """

    name: str
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    # For a consumer whose effects do not depend on their order within a batch (a read model
    # whose records carry versions): all the batch's deliveries at once, in one savepoint. If it
    # raises, each delivery is handled alone by its handler, so a poison event stays one event.
    handle_many: BatchHandler | None = None
    # Deliveries per claim, when this consumer's differ from SPROUT_EVENTS_BATCH_SIZE.
    batch_size: int | None = None

    def __post_init__(self) -> None:
        if not CONSUMER_NAME.match(self.name):
            raise ValueError(f"consumer name {self.name!r} must be lower case, start with a letter, <= 100 chars")
        if self.batch_size is not None and not 1 <= self.batch_size <= 1000:
            raise ValueError(f"{self.name}: batch_size must be 1 to 1000")
        unknown = set(self.handlers) - contracts.known_types()
        if unknown:
            raise contracts.UnknownEventType(f"{self.name} subscribes to types with no contract: {sorted(unknown)}")
        object.__setattr__(self, "handlers", dict(self.handlers))

    @property
    def event_types(self) -> list[str]:
        return sorted(self.handlers)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with equal jitter, capped; `max_attempts` attempts in all before dead.

    `lease`: how long a claim is its claimer's before another may take its deliveries as
    abandoned (the retry the claim schedules is never sooner). A healthy replica slowed down
    between its claim and its handling (a loaded machine, a pause) so keeps what it claimed,
    instead of having it taken over and the takeover counted as an attempt that died.
    """

    max_attempts: int
    base: float
    cap: float
    lease: float = 0.0

    @classmethod
    def from_settings(cls, settings: BaseServiceSettings) -> RetryPolicy:
        return cls(
            settings.events_max_attempts, settings.events_backoff_base, settings.events_backoff_max,
            settings.events_claim_lease,
        )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        full = min(self.cap, self.base * 2.0 ** min(attempt - 1, 60))
        return full / 2 + random.uniform(0, full / 2)

    def held_for(self, attempt: int) -> float:
        """Seconds a claim making attempt number `attempt` keeps its deliveries: the retry it schedules."""
        return max(self.lease, self.delay(attempt))


# The claim, one statement: `events.claim_deliveries` (migration e0002, where each of its steps
# is explained) locks due deliveries with FOR UPDATE SKIP LOCKED, keeps each subject's order,
# takes an interrupted delivery alone, counts each attempt and schedules its retry, and notes
# the claim on the rows. Run on its own (autocommit), so all that is committed, in one round
# trip, before any handler runs.
_CLAIM = text(
    "SELECT * FROM events.claim_deliveries(:consumer, :types, :now, :limit, :claim_id, :max_attempts, :delays, :died)"
).bindparams(
    bindparam("consumer", type_=String),
    bindparam("types", type_=ARRAY(String)),
    bindparam("now", type_=DateTime(timezone=True)),
    bindparam("limit", type_=Integer),
    bindparam("claim_id", type_=UUID(as_uuid=True)),
    bindparam("max_attempts", type_=Integer),
    bindparam("delays", type_=ARRAY(Float)),
    bindparam("died", type_=String),
)

_DIED = (
    "its last attempt ended with its process or its database connection before the handler "
    "finished (the process was killed or crashed, or the connection was lost)"
)


async def claim_due(
    conn: AsyncConnection | AsyncSession,
    *,
    consumer: str,
    types: Sequence[str],
    now: datetime,
    limit: int,
    retry: RetryPolicy,
    claim_id: uuid.UUID | None = None,
) -> Sequence[Any]:
    """Claim up to `limit` due deliveries of `types` for `consumer`; committed with `conn`'s transaction.

    The first row always carries `due_seen` and `next_due`; each claimed row has a
    `delivery_id`, the `attempt` it makes, and `dies` if it was dead-lettered instead (its
    last lone attempt died with its process and it has none left). Retries are scheduled at
    `retry`'s delay for that attempt, one jittered delay per attempt number and claim, and
    never sooner than its lease.
    """
    params = {
        "consumer": consumer,
        "types": list(types),
        "now": now,
        "limit": limit,
        "claim_id": claim_id or uuid.uuid4(),
        "max_attempts": retry.max_attempts,
        "delays": [retry.held_for(n) for n in range(1, retry.max_attempts + 1)],
        "died": _DIED,
    }
    return (await conn.execute(_CLAIM, params)).all()


# Put back the deliveries of a batch it did not run: their values from before the claim.
_PUT_BACK = text(
    """
    UPDATE events.delivery d
    SET attempts = m.attempts, available_at = m.available_at, claim_id = NULL, claim_size = NULL
    FROM unnest(:ids, :attempts, :available_at) AS m(id, attempts, available_at)
    WHERE d.id = m.id
    """
).bindparams(
    bindparam("ids", type_=ARRAY(BigInteger)),
    bindparam("attempts", type_=ARRAY(Integer)),
    bindparam("available_at", type_=ARRAY(DateTime(timezone=True))),
)

# The handling transaction's hold on its claim: rows still carrying our claim id (another claim
# takes them over only once the lease has run out). It waits for a row's lock instead of
# skipping it: another replica's claim statement may hold one of our rows for an instant (read
# as due under its snapshot, then found not to be), and a row skipped for that would sit out
# the lease and be charged an attempt that never ran. A row taken over is rechecked after the
# wait and left out.
_HOLD = text(
    """
    SELECT id FROM events.delivery
    WHERE id = ANY(:ids) AND claim_id = :claim_id AND status = 'pending'
    FOR UPDATE
    """
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)), bindparam("claim_id", type_=UUID(as_uuid=True)))

_DONE = text(
    """
    UPDATE events.delivery SET status = 'done', done_at = :now, claim_id = NULL, claim_size = NULL
    WHERE id = ANY(:ids)
    """
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)), bindparam("now", type_=DateTime(timezone=True)))

_FAILED = text(
    """
    UPDATE events.delivery
    SET last_error = :error, available_at = :retry_at, claim_id = NULL, claim_size = NULL,
        status = CASE WHEN :dead THEN 'dead'::events.delivery_status ELSE status END
    WHERE id = :id
    """
).bindparams(
    bindparam("id", type_=BigInteger),
    bindparam("error", type_=String),
    bindparam("retry_at", type_=DateTime(timezone=True)),
    bindparam("dead", type_=Boolean),
)


def _short_error(exc: BaseException) -> str:
    text_ = f"{type(exc).__name__}: {exc}"
    return text_ if len(text_) <= LAST_ERROR_MAX else text_[: LAST_ERROR_MAX - 1] + "…"


async def register_subscriptions(target: AsyncEngine | str, consumers: Iterable[Consumer]) -> None:
    """Record the consumers' subscriptions (idempotent). From this commit on, every event of
    those types is owed to them, whether or not a process of theirs is running."""
    rows = [{"consumer": c.name, "event_type": t} for c in consumers for t in c.event_types]
    if not rows:
        return
    engine = create_engine(target, pool_size=1, max_overflow=0) if isinstance(target, str) else target
    try:
        async with engine.begin() as conn:
            await conn.execute(pg_insert(Subscription).values(rows).on_conflict_do_nothing())
    finally:
        if isinstance(target, str):
            await engine.dispose()


def load_consumers(import_strings: Iterable[str]) -> list[Consumer]:
    """The consumers named by `module:attribute` strings (what `sprout migrate` pre-registers)."""
    found: list[Consumer] = []
    for spec in import_strings:
        module, _, attr = spec.partition(":")
        found.extend(getattr(importlib.import_module(module), attr))
    return found


@dataclass(frozen=True)
class _Outcome:
    claimed: int
    more: bool  # claim again at once
    next_due: datetime | None  # else sleep until then (or the poll interval)


@dataclass
class _Claim:
    """What a claim took: its batch (or the one delivery it dead-lettered instead) and what it saw."""

    claim_id: uuid.UUID
    due_seen: int
    next_due: datetime | None
    batch: list[Any] = field(default_factory=list)
    dead: Any = None


@dataclass(frozen=True)
class _Settled:
    put_back: int  # deliveries of the batch not run this time (behind a failure, or taken over)
    retry_times: list[datetime]


@dataclass
class _Loop:
    consumer: Consumer
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None


class Worker:
    """The consumer loops of one process and the LISTEN connection they share."""

    def __init__(
        self,
        engine: AsyncEngine,
        url: str,
        consumers: Sequence[Consumer],
        settings: BaseServiceSettings,
        *,
        stop_timeout: float = STOP_TIMEOUT,
        cleanup_every: float | None = CLEANUP_EVERY,
    ) -> None:
        names = [c.name for c in consumers]
        if len(set(names)) != len(names):
            raise ValueError(f"consumer names repeat: {names}")
        self.engine = engine
        # The loops get a pool of their own: a burst of events cannot take the connections
        # requests need, nor the reverse; and without pre-ping, because a loop already retries
        # after any error, while a ping would cost every batch a round trip.
        self.loop_engine = create_engine(
            url, settings, pool_size=len(consumers) + 1, max_overflow=2, pool_pre_ping=False, pool_recycle=1800
        )
        instrument_engine(self.loop_engine)
        self.sessions = sessionmaker(self.loop_engine)
        # The claim is one statement, committed on its own.
        self.claim_engine = self.loop_engine.execution_options(isolation_level="AUTOCOMMIT")
        self.settings = settings
        self.retry = RetryPolicy.from_settings(settings)
        self.batch_size = settings.events_batch_size
        self.poll_interval = settings.events_poll_interval
        self.stop_timeout = stop_timeout
        self.cleanup_every = cleanup_every
        self.loops = {c.name: _Loop(c) for c in consumers}
        self.listener = Listener(url, on_notify=self._on_notify, on_connect=self.wake_all)
        self._stopped = asyncio.Event()
        self._cleanup_task: asyncio.Task | None = None
        self._unwatch_clock: Callable[[], None] | None = None
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._registered = False

    async def start(self) -> None:
        self._event_loop = asyncio.get_running_loop()
        try:
            await self._register()
        except Exception:
            # A service comes up without its database (its liveness does not depend on it);
            # the loops register before their first claim, retrying until it is back.
            log.warning("event subscriptions not registered yet; the consumer loops will", exc_info=True)
        try:
            self._unwatch_clock = clock.on_change(self._on_clock_change)
            await self.listener.start()
            for name, lp in self.loops.items():
                lp.task = asyncio.create_task(self._run(lp), name=f"sprout-events-{name}")
            if self.cleanup_every:
                self._cleanup_task = asyncio.create_task(self._cleanup_periodically(), name="sprout-events-cleanup")
        except BaseException:
            await self.stop()
            raise
        log.info("event consumers started", extra={"consumers": list(self.loops)})

    async def stop(self) -> None:
        """Stop claiming, let each loop finish the batch in hand (up to `stop_timeout`), close the listener.

        A loop still busy after the timeout is cancelled; its transaction rolls back, so its
        deliveries are simply claimed again later, by this service's next process. Nothing
        here waits without a bound: database drivers have been seen to swallow a cancellation.
        """
        self._stopped.set()
        self.wake_all()
        tasks = [lp.task for lp in self.loops.values() if lp.task is not None]
        if self._cleanup_task is not None:
            tasks.append(self._cleanup_task)
        await finish(tasks, timeout=self.stop_timeout)
        if self._unwatch_clock is not None:
            self._unwatch_clock()
        await self.listener.stop()
        await self.loop_engine.dispose()
        log.info("event consumers stopped", extra={"consumers": list(self.loops)})

    # ---------------------------------------------------------------- wake-ups

    def wake_all(self) -> None:
        for lp in self.loops.values():
            lp.wake.set()

    def _on_notify(self, consumer: str) -> None:
        lp = self.loops.get(consumer)
        if lp is not None:
            lp.wake.set()

    def _on_clock_change(self) -> None:
        # A test may move the clock from another thread; Event.set belongs to the loop's thread.
        loop = self._event_loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.wake_all()
        else:
            loop.call_soon_threadsafe(self.wake_all)

    async def _sleep(self, lp: _Loop, seconds: float) -> None:
        if self._stopped.is_set():
            return
        try:
            await asyncio.wait_for(lp.wake.wait(), max(seconds, 0.0))
        except TimeoutError:
            pass

    # ---------------------------------------------------------------- the loop

    async def _run(self, lp: _Loop) -> None:
        name = lp.consumer.name
        errors = 0
        while not self._stopped.is_set():
            lp.wake.clear()
            try:
                if not self._registered:
                    await self._register()
                outcome = await self._run_batch(lp.consumer)
                errors = 0
                if outcome.claimed and outcome.more:
                    continue  # drain the backlog without waiting
                wait = self.poll_interval
                if outcome.next_due is not None:
                    wait = min(wait, (outcome.next_due - clock.now()).total_seconds())
            except Exception:
                errors += 1
                wait = min(30.0, 0.25 * 2 ** min(errors, 8)) * random.uniform(0.5, 1.0)
                log.exception("event consumer loop failed; retrying", extra={"consumer": name, "retry_in": wait})
            await self._sleep(lp, wait)

    async def _register(self) -> None:
        await register_subscriptions(self.engine, [lp.consumer for lp in self.loops.values()])
        self._registered = True

    async def _run_batch(self, consumer: Consumer) -> _Outcome:
        """Claim a batch in one short transaction, then handle and settle it in another."""
        claim = await self._claim(consumer)
        if claim.dead is not None:
            return _Outcome(1, True, claim.next_due)
        if not claim.batch:
            return _Outcome(0, False, claim.next_due)
        settled = await self._handle_batch(consumer, claim)
        # More work now: a full batch; due deliveries we did not take (rows another replica
        # held, free once it commits); or ones we put back behind a failure or a lost row.
        more = len(claim.batch) >= (consumer.batch_size or self.batch_size) or claim.due_seen > len(claim.batch) or settled.put_back > 0
        wake_at = min([t for t in (claim.next_due, *settled.retry_times) if t is not None], default=None)
        return _Outcome(len(claim.batch), more, wake_at)

    async def _claim(self, consumer: Consumer) -> _Claim:
        """Claim due deliveries: committed before any handler runs, so an attempt that kills its
        process or its connection is counted all the same, and retried at the time it set."""
        name = consumer.name
        CLAIMS.labels(name).inc()
        claim_id = uuid.uuid4()
        async with self.claim_engine.connect() as conn:
            rows = await claim_due(
                conn, consumer=name, types=consumer.event_types, now=clock.now(), limit=consumer.batch_size or self.batch_size,
                retry=self.retry, claim_id=claim_id,
            )
        claim = _Claim(claim_id=claim_id, due_seen=rows[0].due_seen, next_due=rows[0].next_due)
        batch = [row for row in rows if row.delivery_id is not None]
        if batch and batch[0].dies:
            claim.dead = batch[0]
            DEAD.labels(name).inc()
            self._log_failure(consumer, claim.dead, claim.dead.attempts_before, _DIED, dead=True, retry_at=None)
        else:
            claim.batch = batch
        return claim

    async def _handle_batch(self, consumer: Consumer, claim: _Claim) -> _Settled:
        """Run the claim's handlers, each in a savepoint, and settle them in one transaction."""
        name = consumer.name
        handled: list[int] = []
        failures: list[tuple[Any, BaseException]] = []
        put_back: list[Any] = []
        retry_times: list[datetime] = []
        dead = 0
        async with self.sessions() as session:
            async with session.begin():
                ids = [row.delivery_id for row in claim.batch]
                held = set((await session.execute(_HOLD, {"ids": ids, "claim_id": claim.claim_id})).scalars())
                stalled: set[str] = set()
                runnable: list[Any] = []
                for row in claim.batch:
                    if row.delivery_id not in held:
                        stalled.add(row.subject)  # another claim has it now: what follows it waits
                    elif row.subject in stalled:
                        put_back.append(row)
                    else:
                        runnable.append(row)
                if len(runnable) > 1 and consumer.handle_many is not None and await self._handle_many(session, consumer, runnable):
                    handled.extend(row.delivery_id for row in runnable)
                    runnable = []
                for row in runnable:
                    if row.subject in stalled:
                        put_back.append(row)  # an earlier delivery of this subject failed: keep the order
                        continue
                    error = await self._handle(session, consumer, row)
                    if error is None:
                        handled.append(row.delivery_id)
                    else:
                        failures.append((row, error))
                        stalled.add(row.subject)
                settled_at = clock.now()
                if handled:
                    await session.execute(_DONE, {"ids": handled, "now": settled_at})
                if put_back:
                    await session.execute(
                        _PUT_BACK,
                        {
                            "ids": [row.delivery_id for row in put_back],
                            "attempts": [row.attempts_before for row in put_back],
                            "available_at": [row.available_at_before for row in put_back],
                        },
                    )
                for row, error in failures:
                    attempt = row.attempt
                    is_dead = attempt >= self.retry.max_attempts
                    dead += is_dead
                    retry_at = (
                        row.available_at_before if is_dead else settled_at + timedelta(seconds=self.retry.delay(attempt))
                    )
                    if not is_dead:
                        retry_times.append(retry_at)
                    await session.execute(
                        _FAILED,
                        {"id": row.delivery_id, "error": _short_error(error), "retry_at": retry_at, "dead": is_dead},
                    )
                    self._log_failure(
                        consumer, row, attempt, _short_error(error), dead=is_dead, retry_at=None if is_dead else retry_at
                    )
        # Counted once committed: a batch rolled back by a crash or a failed commit did not happen.
        HANDLED.labels(name).inc(len(handled))
        FAILED.labels(name).inc(len(failures))
        DEAD.labels(name).inc(dead)
        return _Settled(put_back=len(put_back) + len(claim.batch) - len(held), retry_times=retry_times)

    def _log_failure(
        self, consumer: Consumer, row: Any, attempt: int, error: str, *, dead: bool, retry_at: datetime | None
    ) -> None:
        log.log(
            logging.ERROR if dead else logging.WARNING,
            "event handler failed; dead-lettered" if dead else "event handler failed; will retry",
            extra={
                "consumer": consumer.name,
                "event_type": row.type,
                "event_id": str(row.event_id),
                "subject": row.subject,
                "delivery_id": row.delivery_id,
                "attempt": attempt,
                "retry_at": None if retry_at is None else retry_at.isoformat(),
                "error": error,
            },
        )

    @staticmethod
    def _envelope(consumer: Consumer, row: Any) -> EventEnvelope:
        return EventEnvelope(
            event_id=row.event_id,
            type=row.type,
            version=row.version,
            source=row.source,
            subject=row.subject,
            payload=contracts.parse_for_consumer(row.type, row.version, row.payload),
            occurred_at=row.occurred_at,
            traceparent=row.traceparent,
            attempt=row.attempt,
            delivery_id=row.delivery_id,
            consumer=consumer.name,
        )

    async def _handle_many(self, session: AsyncSession, consumer: Consumer, rows: Sequence[Any]) -> bool:
        """Run `consumer.handle_many` on the rows in one savepoint; False (and nothing kept) if it raised."""
        name = consumer.name
        started = time.perf_counter()
        now = clock.now()
        for row in rows:
            LAG_SECONDS.labels(name).observe(max(0.0, (now - row.available_at_before).total_seconds()))
        savepoint = await session.begin_nested()
        try:
            envelopes = [self._envelope(consumer, row) for row in rows]
            attributes = {"messaging.system": "sprout-events", "sprout.consumer": name, "messaging.batch.message_count": len(rows)}
            with continue_trace(rows[0].traceparent, f"{name} process batch", **attributes):
                await consumer.handle_many(session, envelopes)
                await session.flush()
        except Exception as exc:
            await savepoint.rollback()
            log.warning(
                "batch handler failed; handling its deliveries one by one",
                extra={"consumer": name, "deliveries": len(rows), "error": _short_error(exc)},
            )
            return False
        await savepoint.commit()
        # Each delivery's share, so the histogram stays "time per delivery".
        share = (time.perf_counter() - started) / len(rows)
        for _ in rows:
            HANDLER_SECONDS.labels(name).observe(share)
        return True

    async def _handle(self, session: AsyncSession, consumer: Consumer, row: Any) -> BaseException | None:
        """Run one handler in its own savepoint; returns the error it raised, if any."""
        name = consumer.name
        started = time.perf_counter()
        LAG_SECONDS.labels(name).observe(max(0.0, (clock.now() - row.available_at_before).total_seconds()))
        savepoint = await session.begin_nested()
        try:
            envelope = self._envelope(consumer, row)
            attributes = {"messaging.system": "sprout-events", "messaging.destination.name": row.type, "sprout.consumer": name}
            with continue_trace(row.traceparent, f"{row.type} process", **attributes):
                # The claim took only types this process handles, so the handler is there.
                await consumer.handlers[row.type](session, envelope)
                await session.flush()
        except Exception as exc:
            await savepoint.rollback()
            return exc
        else:
            await savepoint.commit()
            return None
        finally:
            HANDLER_SECONDS.labels(name).observe(time.perf_counter() - started)

    # ---------------------------------------------------------------- cleanup

    async def _cleanup_periodically(self) -> None:
        assert self.cleanup_every
        # Replicas start together; spread their first attempt so one of them takes the lock quietly.
        delay = self.cleanup_every * random.uniform(0.05, 0.3)
        while not await self._stopped_within(delay):
            try:
                await admin.purge_if_leader(self.engine, older_than_days=self.settings.events_retention_days)
            except Exception:
                log.exception("event table cleanup failed")
            delay = self.cleanup_every * random.uniform(0.9, 1.1)

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stopped.wait(), seconds)
        except TimeoutError:
            return False
        return True


async def finish(tasks: Sequence[asyncio.Task], *, timeout: float) -> None:
    """Wait up to `timeout` for `tasks` to end, then cancel the rest and wait a little more.

    Never hangs: a task that ignores its cancellation is logged and left behind.
    """
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=timeout)
    for task in late:
        log.warning("event task did not finish in time; cancelling", extra={"task": task.get_name()})
        task.cancel()
    if late:
        _, stuck = await asyncio.wait(late, timeout=2.0)
        for task in stuck:
            log.error("event task ignored its cancellation; abandoning it", extra={"task": task.get_name()})


@asynccontextmanager
async def run_consumers(
    engine: AsyncEngine,
    url: str,
    consumers: Sequence[Consumer],
    settings: BaseServiceSettings,
    *,
    stop_timeout: float = STOP_TIMEOUT,
    cleanup_every: float | None = CLEANUP_EVERY,
) -> AsyncIterator[Worker]:
    """Run `consumers` until the block exits (the service's lifespan), then stop gracefully."""
    worker = Worker(engine, url, consumers, settings, stop_timeout=stop_timeout, cleanup_every=cleanup_every)
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()
