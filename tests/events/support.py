"""What the event-bus tests share with the consumer processes they start: the test contract and the effect table."""

from __future__ import annotations

import os

import asyncio
import inspect
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from shared import clock
from shared.events import EventContract, publish
from shared.events import contracts
from shared.db import sessionmaker

ROOT = Path(__file__).resolve().parents[2]


class Ping(EventContract):
    """The payload of every test event type: a per-subject sequence number."""

    seq: int = 0
    note: str = ""


def register_ping(event_type: str) -> None:
    contracts.register(event_type, 1, Ping)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# No unique constraint on purpose: an event handled twice shows up as two rows.
EFFECT_DDL = [
    "CREATE SCHEMA IF NOT EXISTS test_effects",
    """
    CREATE TABLE IF NOT EXISTS test_effects.effect (
        id bigserial PRIMARY KEY,
        consumer text NOT NULL,
        event_id uuid NOT NULL,
        subject text NOT NULL,
        seq int NOT NULL,
        pid int NOT NULL,
        started_at double precision NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS ix_effect_consumer ON test_effects.effect (consumer, id)",
]

INSERT_EFFECT = text(
    """
    INSERT INTO test_effects.effect (consumer, event_id, subject, seq, pid, started_at)
    VALUES (:consumer, :event_id, :subject, :seq, :pid, :started_at)
    """
)


async def record_effect(session, consumer: str, event, *, pid: int | None = None, started_at: float | None = None) -> None:
    """What a test handler does: one row in test_effects.effect, in the delivery's transaction."""
    await session.execute(
        INSERT_EFFECT,
        {"consumer": consumer, "event_id": event.event_id, "subject": event.subject, "seq": event.payload.seq,
         "pid": os.getpid() if pid is None else pid, "started_at": time.time() if started_at is None else started_at},
    )


async def publish_pings(engine: AsyncEngine, event_type: str, items: list[tuple[str, int]], *, chunk: int = 1000) -> None:
    """Publish (subject, seq) pings through the real `publish`, committing every `chunk`."""
    factory = sessionmaker(engine)
    for start in range(0, len(items), chunk):
        async with factory() as session, session.begin():
            for subject, seq in items[start : start + chunk]:
                await publish(session, type=event_type, subject=subject, payload=Ping(seq=seq), source="tests")


_BULK = text(
    """
    WITH e AS (
        INSERT INTO events.event (event_id, type, version, source, subject, payload, occurred_at)
        SELECT gen_random_uuid(), :type, 1, 'tests', s.subject, jsonb_build_object('seq', s.seq, 'note', ''), :now
        FROM unnest(CAST(:subjects AS text[]), CAST(:seqs AS int[])) WITH ORDINALITY AS s(subject, seq, n)
        ORDER BY s.n
        RETURNING id, subject
    )
    INSERT INTO events.delivery (consumer, event_id, subject, available_at)
    SELECT sub.consumer, e.id, e.subject, :now
    FROM e JOIN events.subscription sub ON sub.event_type = :type
    ORDER BY e.id, sub.consumer
    """
)


async def bulk_publish_pings(engine: AsyncEngine, event_type: str, items: list[tuple[str, int]]) -> None:
    """Test setup for thousands of events: what `publish` writes, in one statement, in publish order."""
    async with engine.begin() as conn:
        await conn.execute(
            _BULK,
            {"type": event_type, "now": clock.now(), "subjects": [s for s, _ in items], "seqs": [n for _, n in items]},
        )


# Rows the current transaction has read from events.delivery, by any scan of the table or its
# indexes: PostgreSQL's own per-transaction counters, exact and immediate.
_DELIVERY_ROWS_READ = text(
    """
    SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(c.oid)), 0)::bigint FROM pg_class c
    WHERE c.oid = 'events.delivery'::regclass
       OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'events.delivery'::regclass)
    """
)


async def delivery_rows_read(conn: AsyncConnection | AsyncSession) -> int:
    """How many rows of events.delivery the current transaction has read so far."""
    return (await conn.execute(_DELIVERY_ROWS_READ)).scalar_one()


async def scalar(engine: AsyncEngine, sql: str, **params):
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def rows(engine: AsyncEngine, sql: str, **params):
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).all()


async def wait_until(check: Callable[[], bool | Awaitable[bool]], *, timeout: float, interval: float = 0.02, what: str = "") -> None:
    """Poll `check` (plain or async) until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        await asyncio.sleep(interval)


def claims(consumer: str) -> float:
    """How many claim queries this process's worker has run for `consumer`."""
    return REGISTRY.get_sample_value("sprout_events_claims_total", {"consumer": consumer}) or 0.0


async def quiet(consumer: str) -> None:
    """Until this process's loop of `consumer` has run no claim for 300 ms."""
    last = claims(consumer)
    while True:
        await asyncio.sleep(0.3)
        if claims(consumer) == last:
            return
        last = claims(consumer)


async def delivery_counts(engine: AsyncEngine, consumer: str) -> dict[str, int]:
    found = await rows(
        engine, "SELECT status::text, count(*) FROM events.delivery WHERE consumer = :c GROUP BY status", c=consumer
    )
    return {status: n for status, n in found}


async def settled(engine: AsyncEngine, consumer: str, expected: dict[str, int]) -> bool:
    return await delivery_counts(engine, consumer) == expected


class ConsumerProcess:
    """`python -m tests.events.consumer_process` as a child; always killed by `close()`."""

    def __init__(self, workdir: Path, *, db: str, consumer: str, event_type: str, tag: str, **options) -> None:
        self.ready = workdir / f"{tag}.ready"
        self.log = workdir / f"{tag}.log"
        args = [sys.executable, "-m", "tests.events.consumer_process", "--db", db, "--consumer", consumer,
                "--type", event_type, "--ready", str(self.ready)]
        for key, value in options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        self._log_fh = self.log.open("wb")
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=self._log_fh, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready.exists():
            if self.proc.poll() is not None:
                raise AssertionError(f"consumer process exited with {self.proc.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"consumer process not ready after {timeout}s:\n{self.output()}")
            await asyncio.sleep(0.02)

    def output(self) -> str:
        self._log_fh.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    async def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, the graceful path; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if self.proc.poll() is None:
            self.kill()
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self._log_fh.close()
