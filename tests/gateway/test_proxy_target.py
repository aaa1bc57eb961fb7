"""The gateway reaches only the services it is configured with, whatever a client puts in the request target.

A real listener stands for "some other host the gateway can reach" (an internal admin page,
a cloud metadata service). Every request below is sent as raw bytes, so no client library
normalises the path on the way, with and without a bearer token; the listener must never
see a connection, and the gateway must answer each with a problem, never a 500.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

PROBLEM = "application/problem+json"


class Bystander:
    """A loopback HTTP server that records every connection it gets and answers 200 "secret"."""

    def __init__(self) -> None:
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nsecret")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def bystander() -> AsyncIterator[tuple[Bystander, str]]:
    b = Bystander()
    server = await asyncio.start_server(b.handle, "127.0.0.1", 0)
    try:
        yield b, f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def raw_request(base: str, target: bytes, headers: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send one HTTP/1.1 request with `target` exactly as given; the status, headers and body of the answer."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: " + f"{host}:{port}".encode() + b"\r\n" + headers + b"connection: close\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(10):
            data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, fields, body


# Each puts the bystander's address somewhere in the target; `{to}` is replaced by it.
HOSTILE = [
    "/api/selection%2F@{to}/index.html",  # the reported one: an encoded slash ends the host early
    "/api/selection%2f@{to}/index.html",
    "/api/selection@{to}/index.html",
    "/api/selection%40{to}/index.html",
    "/api/selection:1@{to}/index.html",
    "/api/selection\\@{to}/index.html",
    "/api/selection%5C@{to}/index.html",
    "/api/selection%5c%5c{to}/index.html",
    "/api/selection//{to}/index.html",
    "/api/selection/..//{to}/index.html",
    "/api/selection/%2F%2F{to}/index.html",
    "/api/selection/..%2F..%2F@{to}/index.html",
    "/api/selection/../../@{to}/index.html",
    "/api/selection/%2e%2e/%2E%2E/@{to}/index.html",
    "/api/selection/.%2e/@{to}/index.html",
    "/api/selection/%0D%0AHost:%20{to}/index.html",
    "/api/selection/%00@{to}/index.html",
    "/api/selection/%zz@{to}/index.html",
    "/%61pi/selection/@{to}/index.html",
    "/api/%73election/@{to}/index.html",
    "/api/selection?x=1%23@{to}",
]

# Targets the gateway may forward, but only to the configured stand-in service.
FORWARDED = [
    "/api/selection/@{to}/index.html",
    "/api/selection/echo/http:%2F%2F{to}",
    "/api/selection/echo/x?next=http://{to}/index.html",
    "/api/selection/echo/%40{to}",
]


@pytest.mark.parametrize("token", [False, True], ids=["anonymous", "with-token"])
@pytest.mark.parametrize("target", HOSTILE)
async def test_a_hostile_request_target_is_refused_and_the_other_host_is_never_reached(
    edge_gateway, bystander, target, token
):
    b, to = bystander
    headers = b"Authorization: Bearer not.a.token\r\n" if token else b""
    status, fields, body = await raw_request(edge_gateway, target.format(to=to).encode("latin-1"), headers)
    assert b.connections == 0
    assert status in (400, 404), body
    assert fields["content-type"] == PROBLEM
    assert json.loads(body)["code"] in ("invalid_path", "unknown_service", "not_found")
    assert b"secret" not in body


@pytest.mark.parametrize("target", FORWARDED)
async def test_an_address_inside_the_path_or_query_goes_to_the_configured_service_only(edge_gateway, bystander, target):
    b, to = bystander
    status, _, body = await raw_request(edge_gateway, target.format(to=to).encode("latin-1"))
    assert b.connections == 0
    assert b"secret" not in body
    # The stand-in answered: its echo route for /echo/..., its own 404 for anything else.
    assert status in (200, 404, 400), body


async def test_an_absolute_form_target_is_answered_by_the_gateway_not_fetched(edge_gateway, bystander):
    b, to = bystander
    for target in (f"http://{to}/index.html", f"http://{to}/api/selection/echo/abs"):
        status, _, body = await raw_request(edge_gateway, target.encode())
        assert b.connections == 0
        assert b"secret" not in body
        assert status in (200, 400, 404)


async def test_a_host_header_naming_another_host_changes_nothing(edge_gateway, bystander):
    b, to = bystander
    host, port = edge_gateway.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET /api/selection/echo/h HTTP/1.1\r\nHost: {to}\r\nX-Forwarded-Host: {to}\r\nconnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    assert b.connections == 0
    assert data.startswith(b"HTTP/1.1 200")
    echo = json.loads(data.partition(b"\r\n\r\n")[2])
    assert echo["raw_path"] == "/echo/h"


async def test_raw_control_characters_in_the_target_never_reach_a_service(edge_gateway, bystander):
    b, to = bystander
    for target in (f"/api/selection/a\rHost: {to}".encode(), b"/api/selection/a\x00b", "/api/selection/caf\u00e9".encode()):
        host, port = edge_gateway.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(10):
            data = await reader.read()
        writer.close()
        # The HTTP parser refuses the line, or the gateway does; either way with a 4xx.
        assert data.startswith(b"HTTP/1.1 4"), data[:200]
    assert b.connections == 0


async def test_the_services_metrics_are_not_reachable_through_the_gateway(edge_gateway, client):
    for path in ("/api/courses/metrics", "/api/courses/metrics/", "/api/courses/%6detrics", "/api/courses/metrics?x=1"):
        r = await client.get(f"{edge_gateway}{path}")
        assert r.status_code == 404, path
        assert r.json()["code"] == "not_found"
        assert "sprout_http_requests_total" not in r.text
