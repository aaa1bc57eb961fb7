"""A consumer of `selection.candidate.admitted` in a process of its own, for tests/selection_story/test_story.py.

It finds the database as `sprout` commands do (SPROUT_DATA_DIR / SPROUT_DATABASE_URL), subscribes,
prints "subscribed", then writes each admitted student's id (one line per event delivered,
redeliveries included) to the file it is given, until it has run for the seconds given.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from shared.db import create_engine, resolve_database_url
from shared.events import Consumer
from shared.events.worker import run_consumers
from shared.settings import BaseServiceSettings


async def main(out: Path, seconds: float) -> None:
    settings = BaseServiceSettings(events_poll_interval=0.2)
    url = resolve_database_url(settings)
    engine = create_engine(url)

    async def admitted(session, event) -> None:
        with out.open("a") as f:
            f.write(f"{event.payload.student_id}\n")

    async with run_consumers(engine, url, [Consumer("story.admitted", {"selection.candidate.admitted": admitted})], settings):
        print("subscribed", flush=True)
        await asyncio.sleep(seconds)
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), float(sys.argv[2])))
