"""A bounded HTTP load generator for when `wrk` is not installed: N keep-alive connections, T seconds.

Run it in its own process (`python -m tests.perf.load URL`), so it does not share an event
loop with what it measures; it prints one JSON object. On a two-core machine it still
competes with the servers for CPU, so its figures are lower than wrk's; compare figures
taken with the same generator only.

Two clients: `raw` (the default), a minimal HTTP/1.1 keep-alive client on asyncio
protocols with httptools' parser, and `aiohttp`, a full HTTP client. The raw one spends far
less CPU per request, which matters here: with aiohttp the generator, not the server, sets
the pace of the direct run (measured: fewer requests/s direct than through the gateway).

`--header 'Name: value'` (repeatable) adds a header to every request, e.g. a bearer token.
Every answer's status is counted and `non_2xx` totals those outside 2xx, so a request the
server refuses (a header that did not arrive, say) shows up instead of being timed as work.

`run_list` is the same raw client for a fixed list of distinct requests (each its own token
and body, say), each sent once over a bounded number of connections, every answer kept:
tests/perf/registration.py drives registration day with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

Headers = Sequence[tuple[str, str]]

# RFC 9110 token characters: a name outside them would make the raw client send a malformed request.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# However slow the server, a request that has not finished this long after the deadline is abandoned.
_GRACE = 30.0


def parse_header(text: str) -> tuple[str, str]:
    """`Name: value` as given to --header (curl's and wrk's form)."""
    name, colon, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not _HEADER_NAME.fullmatch(name) or "\r" in value or "\n" in value:
        raise argparse.ArgumentTypeError(f"not a 'Name: value' header: {text!r}")
    return name, value


def _summary(count: int, errors: int, statuses: dict[int, int], latencies: list[float], elapsed: float) -> dict:
    latencies.sort()

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else None

    return {
        "requests": count,
        "errors": errors,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "non_2xx": sum(n for status, n in statuses.items() if not 200 <= status < 300),
        "seconds": round(elapsed, 2),
        "rps": round(count / elapsed, 1) if elapsed else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


async def run_aiohttp(url: str, connections: int, duration: float, headers: Headers = ()) -> dict:
    import aiohttp

    statuses: dict[int, int] = {}
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=duration + _GRACE)
    async with aiohttp.ClientSession(
        connector=connector, auto_decompress=False, headers=list(headers), timeout=timeout
    ) as session:
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal errors
            while (start := time.perf_counter()) < deadline:
                try:
                    async with session.get(url) as r:
                        await r.read()
                        statuses[r.status] = statuses.get(r.status, 0) + 1
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(connections))), duration + _GRACE)
        elapsed = time.perf_counter() - began
    return _summary(len(latencies), errors, statuses, latencies, elapsed)


class _RawConnection(asyncio.Protocol):
    """Sends one GET, waits for the whole answer, sends the next, until the deadline."""

    def __init__(self, request: bytes, deadline: float, stats: dict, done: asyncio.Future) -> None:
        import httptools

        self.request = request
        self.deadline = deadline
        self.stats = stats
        self.done = done
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.start = 0.0

    def connection_made(self, transport) -> None:
        self.transport = transport
        self._send()

    def _send(self) -> None:
        self.start = time.perf_counter()
        if self.start >= self.deadline:
            self.transport.close()
            return
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except Exception:
            self.stats["errors"] += 1
            self.transport.close()

    def on_message_complete(self) -> None:
        now = time.perf_counter()
        status = self.parser.get_status_code()
        self.stats["statuses"][status] = self.stats["statuses"].get(status, 0) + 1
        self.stats["latencies"].append(now - self.start)
        self._send()

    def connection_lost(self, exc) -> None:
        if time.perf_counter() < self.deadline:
            self.stats["errors"] += 1
        if not self.done.done():
            self.done.set_result(None)


def _raw_request(url: str, headers: Headers) -> bytes:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    given = {name.lower() for name, _ in headers}
    defaults = [(n, v) for n, v in (("Host", parts.netloc), ("User-Agent", "sprout-load")) if n.lower() not in given]
    lines = [f"GET {target} HTTP/1.1", *(f"{name}: {value}" for name, value in [*defaults, *headers])]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def run_raw(url: str, connections: int, duration: float, headers: Headers = ()) -> dict:
    parts = urlsplit(url)
    request = _raw_request(url, list(headers))
    loop = asyncio.get_running_loop()
    stats: dict = {"errors": 0, "statuses": {}, "latencies": []}
    deadline = time.perf_counter() + duration
    began = time.perf_counter()
    waiters = []
    for _ in range(connections):
        done = loop.create_future()
        await asyncio.wait_for(
            loop.create_connection(
                lambda d=done: _RawConnection(request, deadline, stats, d), parts.hostname, parts.port or 80
            ),
            _GRACE,
        )
        waiters.append(done)
    await asyncio.wait_for(asyncio.gather(*waiters), duration + _GRACE)
    elapsed = time.perf_counter() - began
    return _summary(len(stats["latencies"]), stats["errors"], stats["statuses"], stats["latencies"], elapsed)


class _ListConnection(asyncio.Protocol):
    """Sends the next of a shared list of requests, waits for its whole answer, until the list is done."""

    def __init__(self, requests: list[bytes], cursor: list[int], answers: list, done: asyncio.Future) -> None:
        import httptools

        self.requests, self.cursor, self.answers, self.done = requests, cursor, answers, done
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.index, self.start, self.body = -1, 0.0, bytearray()

    def connection_made(self, transport) -> None:
        self.transport = transport
        self._send()

    def _send(self) -> None:
        self.index = self.cursor[0]
        if self.index >= len(self.requests):
            self.transport.close()
            return
        self.cursor[0] += 1
        self.body = bytearray()
        self.start = time.perf_counter()
        self.transport.write(self.requests[self.index])

    def on_body(self, body: bytes) -> None:
        self.body += body

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except Exception:
            self.transport.close()

    def on_message_complete(self) -> None:
        self.answers[self.index] = (self.parser.get_status_code(), time.perf_counter() - self.start, bytes(self.body))
        self._send()

    def connection_lost(self, exc) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def run_list(host: str, port: int, requests: Sequence[bytes], connections: int, timeout: float) -> tuple[list, float]:
    """Each of `requests` (whole HTTP/1.1 requests, keep-alive) sent once, in order, over `connections`
    connections, each sending its next as soon as its answer is read: (status, seconds, body) per
    request (None for one unanswered, its connection lost), and the wall-clock seconds from the
    first send to the last answer. Bounded: whatever is unanswered after `timeout` s is abandoned."""
    loop = asyncio.get_running_loop()
    todo = list(requests)
    answers: list = [None] * len(todo)
    cursor = [0]
    began = time.perf_counter()
    connected = []
    for _ in range(min(connections, len(todo))):
        done = loop.create_future()
        transport, _ = await asyncio.wait_for(
            loop.create_connection(lambda d=done: _ListConnection(todo, cursor, answers, d), host, port), _GRACE)
        connected.append((transport, done))
    try:
        await asyncio.wait_for(asyncio.gather(*(done for _, done in connected)), timeout)
    except TimeoutError:
        pass
    finally:
        for transport, _ in connected:
            transport.close()
    return answers, time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.perf.load", description=__doc__.splitlines()[0])
    p.add_argument("url")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--client", choices=("raw", "aiohttp"), default="raw")
    p.add_argument("--header", type=parse_header, action="append", default=[], metavar="'NAME: VALUE'",
                   help="a header to send with every request; repeatable")
    args = p.parse_args(argv)
    if not 0 < args.duration <= 600:
        p.error("--duration must be in (0, 600] seconds")
    runner = run_raw if args.client == "raw" else run_aiohttp
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(runner(args.url, args.connections, args.duration, args.header))
    else:
        result = uvloop.run(runner(args.url, args.connections, args.duration, args.header))
    result["client"] = args.client
    result["connections"] = args.connections
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
