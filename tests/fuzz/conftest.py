"""The system the fuzzer runs against: real servers on a database of its own, real tokens.

The whole system (`tests.system.live_system`) runs in an event loop of its own thread,
because schemathesis sends its requests with a blocking client from the test's thread. It
has a database of its own too, so what the fuzzer creates (schools, users, clients,
consents...) is seen by no other test. The rate limits are off (SPROUT_RATE_LIMIT_ENABLED):
the fuzzer sends far more than a person would, and a 429 would hide the answer it came for.

The people it signs in as, one of each role the fuzzer calls with, get their tokens from
`POST /auth/token` with a password, as a client does, and again before one runs out. The
thousands of access lines the fuzzing makes are not logged (a warning or an error still is).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from hypothesis.configuration import set_hypothesis_home_dir

from shared.db import create_engine
from tests.conftest import fresh_database
from tests.servers import in_own_loop
from tests.system import System, live_system
from tests.tokens.support import PASSWORD, committed, make_school, make_user

# The roles the fuzzer calls every operation as; a coordinator and a student belong to a school.
ROLES = ("admin", "staff", "coordinator", "student")

# The fuzzer sends one request at a time: a few connections each, beside the rest of the suite's.
SMALL_POOLS = {"database_pool_size": 2, "database_max_overflow": 3}

# What Hypothesis keeps between runs (no example database: schemathesis.toml) stays out of the tree.
set_hypothesis_home_dir(Path(__file__).resolve().parents[2] / ".sprout" / "hypothesis")


@dataclass
class FuzzedSystem:
    system: System
    documents: dict[str, tuple[dict[str, Any], str]]  # name -> (OpenAPI document, the URL it describes)
    usernames: dict[str, str]  # role -> the username of the person of that role
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # role -> (access token, expiry)

    def token(self, role: str) -> str:
        """An access token of the person of `role`, signed in again when the last one is nearly spent."""
        token, expires = self._tokens.get(role, ("", 0.0))
        if time.monotonic() > expires - 60:
            r = requests.post(
                f"{self.system.url}/auth/token", timeout=20,
                data={"grant_type": "password", "username": self.usernames[role], "password": PASSWORD},
            )
            assert r.status_code == 200, r.text
            token = r.json()["access_token"]
            self._tokens[role] = token, time.monotonic() + r.json()["expires_in"]
        return token


async def _people(database_url: str) -> dict[str, str]:
    """One person of each role in ROLES, with a password: role -> username."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with committed(engine) as session:
            school = await make_school(session, name="Fuzzing Middle School")
            users = {
                role: await make_user(
                    session, role, username=f"fuzz-{role}", display_name=f"Fuzz {role}",
                    school=school if role in ("coordinator", "student") else None,
                    grade=8 if role == "student" else None,
                )
                for role in ROLES
            }
        return {role: user.username for role, user in users.items()}
    finally:
        await engine.dispose()


async def documents(system: System) -> dict[str, tuple[dict[str, Any], str]]:
    """Every document the system serves, with the URL its paths are relative to.

    `combined` is the gateway's /openapi.json (every operation, the services' under
    /api/<name>); `gateway` is the gateway's own document (FastAPI's, which the combined one
    replaces at /openapi.json); each service's is its own /openapi.json, called directly.
    """
    docs = {"combined": (system.doc, system.url), "gateway": (system.app.openapi(), system.url)}
    async with httpx.AsyncClient(timeout=20) as client:
        for name, url in system.services.items():
            r = await client.get(f"{url}/openapi.json")
            r.raise_for_status()
            docs[name] = (r.json(), url)
    return docs


@asynccontextmanager
async def fuzzed_system(server_url: str, worker_id: str) -> AsyncIterator[FuzzedSystem]:
    async with fresh_database(server_url, f"{worker_id}_fuzz") as database_url:
        usernames = await _people(database_url)
        async with live_system(database_url, every_service=SMALL_POOLS, rate_limit_enabled=False) as system:
            yield FuzzedSystem(system, await documents(system), usernames)


THREAD = "fuzzed-system"


def _not_from_fuzzing(record: logging.LogRecord) -> bool:
    return record.threadName != THREAD or record.levelno >= logging.WARNING


@pytest.fixture(scope="module")
def fuzzed(server_url: str, worker_id: str) -> Iterator[FuzzedSystem]:
    """The system, for the fuzz tests only: it stops, and its database goes, when they are done."""
    # On the loggers, not the handler: every app the suite creates replaces the root handler.
    quiet = [logging.getLogger(name) for name in ("sprout.access", "httpx")]
    for logger in quiet:
        logger.addFilter(_not_from_fuzzing)
    try:
        with in_own_loop(fuzzed_system(server_url, worker_id), name=THREAD) as running:
            yield running
    finally:
        for logger in quiet:
            logger.removeFilter(_not_from_fuzzing)
