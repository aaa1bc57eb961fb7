"""The LISTEN connection: one per process, shared by all its consumers, reconnecting when it drops.

NOTIFY is only a wake-up call; nothing is lost while the listener is down, because the
deliveries are rows and the loops also poll. After a reconnect every loop is woken for a
catch-up claim, since notifications sent while the connection was down are gone.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

import asyncpg
from prometheus_client import Counter

from shared.db import asyncpg_dsn
from shared.events.models import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

RECONNECTS = Counter("sprout_events_listener_reconnects_total", "Times the LISTEN connection was re-established.")

APPLICATION_NAME = "sprout-events-listener"
# A LISTEN connection is idle; a cheap query now and then finds a silently dead peer.
PING_EVERY = 30.0
PING_TIMEOUT = 5.0
RETRY_FIRST = 0.05
RETRY_MAX = 5.0


class Listener:
    """Calls `on_notify(payload)` for each notification on `channel` and `on_connect()` after each (re)connect."""

    def __init__(
        self,
        url: str,
        *,
        on_notify: Callable[[str], None],
        on_connect: Callable[[], None],
        channel: str = NOTIFY_CHANNEL,
        application_name: str = APPLICATION_NAME,
    ) -> None:
        _, self._connect_kwargs = asyncpg_dsn(url)
        self._channel = channel
        self._application_name = application_name
        self._on_notify = on_notify
        self._on_connect = on_connect
        self._task: asyncio.Task | None = None
        self._conn: asyncpg.Connection | None = None
        self._closing = False
        self.connected = asyncio.Event()
        self.backend_pid: int | None = None
        self.reconnects = 0

    async def start(self, *, wait: float = 5.0) -> None:
        """Start listening; wait up to `wait` seconds for the first connection (the loops poll meanwhile)."""
        self._task = asyncio.create_task(self._run(), name="sprout-events-listener")
        try:
            await asyncio.wait_for(self.connected.wait(), wait)
        except TimeoutError:
            log.warning("event listener not connected yet; consumers poll until it is")

    async def stop(self) -> None:
        self._closing = True
        if self._conn is not None and not self._conn.is_closed():
            self._conn.terminate()  # wakes the watch at once
        if self._task is not None:
            self._task.cancel()
            # Bounded: a cancellation swallowed inside the driver must not hang the shutdown.
            _, stuck = await asyncio.wait({self._task}, timeout=2.0)
            if stuck:
                log.error("event listener did not stop; abandoning it")
            self._task = None

    async def _run(self) -> None:
        delay = RETRY_FIRST
        first = True
        while not self._closing:
            try:
                conn = self._conn = await self._connect()
            except Exception as exc:
                log.warning("event listener cannot connect; retrying", extra={"error": repr(exc), "retry_in": delay})
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, RETRY_MAX)
                continue
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _conn: lost.set())
            try:
                await conn.add_listener(self._channel, self._notification)
                self.backend_pid = conn.get_server_pid()
                self.connected.set()
                delay = RETRY_FIRST
                if not first:
                    self.reconnects += 1
                    RECONNECTS.inc()
                    log.info("event listener reconnected", extra={"backend_pid": self.backend_pid})
                first = False
                self._on_connect()
                await self._watch(conn, lost)
            except Exception as exc:  # whatever it was, the cure is a new connection
                log.warning("event listener failed", extra={"error": repr(exc)})
            finally:
                self.connected.clear()
                self.backend_pid = None
                self._conn = None
                if not conn.is_closed():
                    conn.terminate()
            if self._closing:
                return
            log.warning("event listener lost its connection; reconnecting", extra={"retry_in": delay})
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, RETRY_MAX)

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            **self._connect_kwargs, timeout=10, server_settings={"application_name": self._application_name}
        )

    async def _watch(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        while not lost.is_set():
            try:
                await asyncio.wait_for(lost.wait(), PING_EVERY)
            except TimeoutError:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), PING_TIMEOUT)

    def _notification(self, _conn: asyncpg.Connection, _pid: int, _channel: str, payload: str) -> None:
        self._on_notify(payload)
