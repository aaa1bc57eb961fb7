"""Who the client is, behind a proxy and in front of none: one answer for the rate limit, the proxy's X-Forwarded-For and the access log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest

from services.gateway.app import create_app
from services.gateway.limits.clients import TrustedProxies
from tests.conftest import ROOT
from tests.gateway.conftest import Captured, standin_app
from tests.servers import bound_socket, serve
from tests.tokens.support import gateway_settings

# A burst of three anonymous requests and nothing refilled while a test runs.
TIGHT = {"rate_limit_anonymous_per_minute": 1, "rate_limit_anonymous_burst": 3}

INGRESS = TrustedProxies(["10.0.0.0/8", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # Not from a trusted proxy: whatever the caller wrote is ignored.
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),
        # From the ingress: the address it saw.
        ("10.1.2.3", "198.51.100.1", "198.51.100.1"),
        # What the caller wrote to the left of that proves nothing.
        ("10.1.2.3", "192.0.2.66, 198.51.100.1", "198.51.100.1"),
        # A load balancer in front of the ingress, both trusted: the nearest untrusted hop.
        ("10.1.2.3", "192.0.2.66, 198.51.100.1, 10.9.9.9", "198.51.100.1"),
        # Every hop trusted: the nearest, never a hop the caller could have written.
        ("10.1.2.3", "10.7.7.7, 10.8.8.8", "10.8.8.8"),
        # Garbage ends the walk at the last address the proxies vouch for.
        ("10.1.2.3", "198.51.100.1, not-an-address, 10.9.9.9", "10.9.9.9"),
        ("10.1.2.3", "unknown", "10.1.2.3"),
        # The forms proxies write: with ports, IPv6 in brackets, an IPv4-mapped peer.
        ("10.1.2.3", "198.51.100.1:51234", "198.51.100.1"),
        ("fd00::5", "[2001:db8::7]:443", "2001:db8::7"),
        ("::ffff:10.1.2.3", "2001:db8::7", "2001:db8::7"),
        ("10.1.2.3", "", "10.1.2.3"),
    ],
)
def test_the_client_is_the_nearest_address_no_trusted_proxy_vouches_for(peer, forwarded, client):
    assert INGRESS.client(peer, forwarded) == client


def test_with_no_trusted_proxy_the_peer_is_always_the_client():
    assert TrustedProxies([]).client("127.0.0.1", "198.51.100.1") == "127.0.0.1"


# ---------------------------------------------------------------- over real HTTP


async def _statuses(url: str, forwarded: list[str], path: str = "/.well-known/jwks.json") -> list[int]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        return [(await http.get(path, headers={"X-Forwarded-For": f})).status_code for f in forwarded]


@contextmanager
def sprout_serve_gateway(database_url: str, **env: str) -> Iterator[str]:
    """`sprout serve gateway` as its own process, exactly as a container runs it."""
    sock, url = bound_socket()
    port = sock.getsockname()[1]
    sock.close()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SPROUT_")},
        "SPROUT_DATABASE_URL": database_url, "SPROUT_ENV": "test", "SPROUT_EVENTS_ENABLED": "false",
        "SPROUT_RATE_LIMIT_ANONYMOUS_PER_MINUTE": "1", "SPROUT_RATE_LIMIT_ANONYMOUS_BURST": "3", **env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "gateway", "--port", str(port)],
        cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f"sprout serve gateway exited: {proc.stderr.read().decode(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("sprout serve gateway did not become ready in 60 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_a_caller_on_the_gateways_own_host_cannot_buy_buckets_by_writing_x_forwarded_for(database_url):
    # uvicorn, as `sprout serve` used to run it, believed X-Forwarded-For from 127.0.0.1:
    # every made-up address was a fresh bucket.
    with sprout_serve_gateway(database_url) as url:
        statuses = await _statuses(url, [f"198.51.100.{i}" for i in range(4)])
    assert statuses == [200, 200, 200, 429]


@asynccontextmanager
async def behind_a_proxy(database_url: str, **settings) -> AsyncIterator[tuple[str, object]]:
    """A gateway whose proxy is this machine (127.0.0.1 trusted) and a stand-in service that echoes what reaches it."""
    standin = standin_app()
    async with serve(standin.app) as selection_url:
        app = create_app(gateway_settings(database_url, selection_url=selection_url, **TIGHT, **settings))
        async with serve(app) as url:
            yield url, app


async def test_two_clients_behind_a_trusted_proxy_have_a_bucket_each(database_url):
    async with behind_a_proxy(database_url, trusted_proxies=["127.0.0.1"]) as (url, _):
        first = await _statuses(url, ["198.51.100.1"] * 4)
        second = await _statuses(url, ["198.51.100.2"] * 3)
        # One that writes its own entry to the left of the proxy's gains nothing.
        forged = await _statuses(url, [f"192.0.2.{i}, 198.51.100.2" for i in range(2)])
    assert first == [200, 200, 200, 429]
    assert second == [200, 200, 200]
    assert forged == [429, 429]


async def test_without_a_trusted_proxy_a_forged_x_forwarded_for_buys_nothing(database_url):
    async with behind_a_proxy(database_url) as (url, _):
        statuses = await _statuses(url, [f"198.51.100.{i}" for i in range(4)])
    assert statuses == [200, 200, 200, 429]


async def test_the_service_and_the_access_log_see_the_client_the_limit_saw(database_url):
    captured = Captured()
    async with behind_a_proxy(database_url, trusted_proxies=["127.0.0.1"]) as (url, _):
        # After the app is made: making it sets up logging afresh.
        logging.getLogger().addHandler(captured)
        try:
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                r = await http.get(
                    "/api/selection/echo/who",
                    headers={"X-Forwarded-For": "192.0.2.66, 198.51.100.7", "X-Forwarded-Proto": "https"},
                )
        finally:
            logging.getLogger().removeHandler(captured)
    assert r.status_code == 200, r.text
    forwarded = {k: v for k, v in r.json()["headers"] if k.startswith("x-forwarded-")}
    # The service is told the client the gateway settled on, not the caller's own claim.
    assert forwarded["x-forwarded-for"] == "198.51.100.7"
    assert forwarded["x-forwarded-proto"] == "https"
    (line,) = [rec for rec, _, _ in captured.access("/api/selection/echo/who")]
    assert line.client == "198.51.100.7"
