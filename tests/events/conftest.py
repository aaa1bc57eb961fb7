"""Fixtures of the event-bus tests: unique event types and consumer names, the effect table, worker settings.

These tests commit for real (the bus is about commits), so each uses its own event type
and consumer names and never sees another test's rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from shared.events import contracts
from shared.settings import BaseServiceSettings
from tests.events.support import EFFECT_DDL, register_ping, unique


@pytest.fixture(scope="session")
async def effects(engine) -> None:
    async with engine.begin() as conn:
        for ddl in EFFECT_DDL:
            await conn.execute(text(ddl))


@pytest.fixture
def ping_type() -> Iterator[str]:
    event_type = unique("test.ping")
    register_ping(event_type)
    yield event_type
    contracts.unregister(event_type, 1)


@pytest.fixture
def consumer_name() -> str:
    return unique("c")


@pytest.fixture
def make_settings(database_url):
    def make(**overrides) -> BaseServiceSettings:
        values = {
            "events_poll_interval": 5.0,
            "events_batch_size": 32,
            "events_max_attempts": 3,
            "events_backoff_base": 0.05,
            "events_backoff_max": 0.2,
            # Long enough that a loaded machine's pause between claim and handling is not taken
            # for a crash; the tests of crashes set it short.
            "events_claim_lease": 1.0,
        }
        values.update(overrides)
        return BaseServiceSettings(database_url=database_url, env="test", **values)

    return make


@pytest.fixture
def workdir(tmp_path) -> Path:
    return tmp_path
