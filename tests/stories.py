"""What the story tests share: people made and signed in through the gateway, events published as
their services would, and waiting for what another service does in its own time."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from services.gateway.app import create_app as gateway_app
from services.gateway.identity import admin as identity_admin
from services.gateway.settings import GatewaySettings
from shared import clock
from shared.db import create_engine, sessionmaker
from shared.events.bus import publish
from tests.servers import bound_socket, serve

ROOT = Path(__file__).resolve().parents[1]

PASSWORD = "a long story passphrase 3"
WITHIN = 30.0


async def eventually(check, what: str, within: float = WITHIN):
    """`check()`'s first truthy value, polled every 0.1 s; fails after `within` seconds. Prints how long it took."""
    started = time.monotonic()
    while True:
        value = await check()
        if value:
            print(f"{what}: {(time.monotonic() - started) * 1000:.0f} ms")
            return value
        assert time.monotonic() - started < within, f"not within {within}s: {what}"
        await asyncio.sleep(0.1)


async def publish_events(url: str, events: list[tuple[str, str, Any]]) -> None:
    """Events as their services publish them, committed: (type, source, payload), each about its payload's student."""
    engine = create_engine(url)
    try:
        async with sessionmaker(engine)() as session, session.begin():
            for type, source, payload in events:
                await publish(session, type=type, subject=str(payload.student_id), payload=payload, source=source)
    finally:
        await engine.dispose()


class People:
    """Accounts made by the bureau's admin at the gateway (`user`), and their bearer headers (`login`).
    Every username gets `prefix`; every password is PASSWORD."""

    def __init__(self, http: httpx.AsyncClient, prefix: str = "story-") -> None:
        self.http, self.prefix = http, prefix
        self.admin: dict[str, str] = {}

    async def login(self, username: str) -> dict[str, str]:
        r = await self.http.post("/auth/token", data={"grant_type": "password", "username": f"{self.prefix}{username}", "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    async def user(self, username: str, roles: list[str], display_name: str, **extra: Any) -> str:
        r = await self.http.post("/identity/users", headers=self.admin, json={
            "username": f"{self.prefix}{username}", "display_name": display_name, "roles": roles, "password": PASSWORD, **extra})
        assert r.status_code == 201, r.text
        return r.json()["id"]


async def gateway_and(stack: AsyncExitStack, url: str, service: str, create_app: Callable[[Any], Any], settings_class: type, *,
                      days_back: float, prefix: str = "story-") -> tuple[People, dict[str, str], dict[str, str]]:
    """The gateway and one domain service, served in this process on a clock set `days_back` days back
    (tokens keep the real time), the bureau's admin and the base's staff created; returns the people
    (signed in as admin, for making accounts) and the admin's and the staff's headers."""
    gw_sock, gw_url = bound_socket()
    svc_sock, svc_url = bound_socket()
    gsettings = GatewaySettings(database_url=url, env="test", rate_limit_enabled=False, **{f"{service}_url": svc_url})
    for username, role, name in (("bureau-admin", "admin", "Bureau"), ("base-staff", "staff", "Base staff")):
        await identity_admin.create_user(url, gsettings, username=f"{prefix}{username}", roles=[role], password=PASSWORD, display_name=name)
    stack.enter_context(clock.use_clock(clock.FrozenClock(datetime.now(UTC) - timedelta(days=days_back))))
    await stack.enter_async_context(serve(gateway_app(gsettings), gw_sock))
    await stack.enter_async_context(serve(create_app(settings_class(
        database_url=url, env="test", gateway_url=gw_url, jwks_url=f"{gw_url}/.well-known/jwks.json",
        events_poll_interval=0.2, directory_bootstrap=False,
    )), svc_sock))
    http = await stack.enter_async_context(httpx.AsyncClient(base_url=gw_url, timeout=30, trust_env=False))
    people = People(http, prefix)
    people.admin = await people.login("bureau-admin")
    return people, people.admin, await people.login("base-staff")


def consumer_process(stack: AsyncExitStack, url: str, out: Path, type: str, *fields: str) -> Callable[[], list[str]]:
    """`tests/consumer_process.py` for `type` in a process of its own, subscribed before this returns;
    the function returned reads the lines it has written so far (the FIELDs of each delivery)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPROUT_")} | {"SPROUT_DATABASE_URL": url}
    consumer = subprocess.Popen([sys.executable, "-m", "tests.consumer_process", str(out), "120", type, *fields],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    stack.callback(consumer.kill)
    assert consumer.stdout.readline().strip() == "subscribed"
    return lambda: out.read_text().splitlines() if out.exists() else []
