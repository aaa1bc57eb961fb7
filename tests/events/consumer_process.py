"""A consumer process for the event-bus tests and the latency benchmark.

    python -m tests.events.consumer_process --db URL --consumer NAME --type TYPE --ready FILE

Runs `run_consumers` with one handler that writes a row into `test_effects.effect` inside
the delivery's transaction; it stops gracefully on SIGTERM. `--invocations FILE` appends
each event id to FILE as the handler starts, outside any transaction, so a test can see
work that a SIGKILL rolled back. `--exit-on-seq N` makes the handler of the event with
sequence number N end the process on the spot (`os._exit(1)`): a poison delivery.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import time
from pathlib import Path

from shared.db import create_engine
from shared.events import Consumer, EventEnvelope, run_consumers
from shared.logging import setup_logging
from shared.settings import BaseServiceSettings
from tests.events.support import record_effect, register_ping


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--consumer", required=True)
    p.add_argument("--type", required=True)
    p.add_argument("--ready", required=True, type=Path)
    p.add_argument("--sleep", type=float, default=0.0, help="seconds each handler sleeps")
    p.add_argument("--jitter", type=float, default=0.0, help="up to this many seconds more, at random")
    p.add_argument("--invocations", type=Path)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--poll", type=float, default=1.0)
    p.add_argument("--exit-on-seq", type=int, help="the handler of this seq ends the process (exit code 1)")
    p.add_argument("--max-attempts", type=int, default=8)
    p.add_argument("--backoff", type=float, default=1.0, help="events_backoff_base, seconds")
    p.add_argument("--lease", type=float, default=10.0, help="events_claim_lease, seconds")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    register_ping(args.type)
    pid = os.getpid()
    invocations = os.open(args.invocations, os.O_WRONLY | os.O_APPEND | os.O_CREAT) if args.invocations else None

    async def handle(session, event: EventEnvelope) -> None:
        started_at = time.time()
        if invocations is not None:
            os.write(invocations, f"{event.event_id}\n".encode())
        if event.payload.seq == args.exit_on_seq:
            os._exit(1)
        if args.sleep or args.jitter:
            await asyncio.sleep(args.sleep + random.uniform(0, args.jitter))
        await record_effect(session, args.consumer, event, pid=pid, started_at=started_at)

    settings = BaseServiceSettings(
        database_url=args.db, events_batch_size=args.batch, events_poll_interval=args.poll, log_json=True,
        events_max_attempts=args.max_attempts, events_backoff_base=args.backoff, events_claim_lease=args.lease,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    engine = create_engine(args.db, pool_size=2, max_overflow=2)
    try:
        consumer = Consumer(args.consumer, {args.type: handle})
        async with run_consumers(engine, args.db, [consumer], settings, cleanup_every=None):
            args.ready.write_text(str(pid))
            await stop.wait()
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    setup_logging("test-consumer", "WARNING", as_json=True)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
