"""Real HTTP servers for tests: uvicorn in this process's event loop, on a free loopback port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import uvicorn

from services.cli import uvicorn_options


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Shares the process with pytest: it must not take pytest's signals.
        yield


def bound_socket() -> tuple[socket.socket, str]:
    """A loopback socket on a free port, bound now so its URL can be handed out before the server starts."""
    # The protocol spelled out: asyncio sets TCP_NODELAY only on sockets whose `proto` says
    # TCP, and without it each response waits for the client's delayed ACK (40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


@asynccontextmanager
async def serve(app: Any, sock: socket.socket | None = None, **config: Any) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on `sock` (default: a free loopback port) until the block ends; yields its URL."""
    if sock is None:
        sock, _ = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    # As `sprout serve` runs it, so X-Forwarded-For is judged as in production: uvicorn does not
    # rewrite the client, the gateway decides who the client is.
    proxy_headers = uvicorn_options("127.0.0.1", 0)["proxy_headers"]
    options = {"log_config": None, "access_log": False, "proxy_headers": proxy_headers, "lifespan": "on", "timeout_graceful_shutdown": 2}
    server = _Server(uvicorn.Config(app, **{**options, **config}))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(30):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("the server stopped before it started")
                await asyncio.sleep(0.01)
        yield url
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 10)
        finally:
            sock.close()
