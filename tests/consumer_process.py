"""A consumer of one event type in a process of its own, for the story tests.

    python -m tests.consumer_process OUT SECONDS TYPE FIELD...

It finds the database as `sprout` commands do (SPROUT_DATA_DIR / SPROUT_DATABASE_URL), subscribes
as `story.<TYPE>`, prints "subscribed", then writes one line per event delivered (redeliveries
included) to OUT: the payload's FIELDs, space-separated, until it has run for SECONDS.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from shared.db import create_engine, resolve_database_url
from shared.events import Consumer
from shared.events.worker import run_consumers
from shared.settings import BaseServiceSettings


async def main(out: Path, seconds: float, type: str, fields: list[str]) -> None:
    settings = BaseServiceSettings(events_poll_interval=0.2)
    url = resolve_database_url(settings)
    engine = create_engine(url)

    async def delivered(session, event) -> None:
        with out.open("a") as f:
            f.write(" ".join(str(getattr(event.payload, name)) for name in fields) + "\n")

    async with run_consumers(engine, url, [Consumer(f"story.{type}", {type: delivered})], settings):
        print("subscribed", flush=True)
        await asyncio.sleep(seconds)
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4:]))
