"""Real HTTP servers for tests: uvicorn in this process's event loop, on a free loopback port.

`in_own_loop` runs them (or any async context) in an event loop of its own thread instead,
for synchronous tests that send their requests with a blocking client.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any, TypeVar

import uvicorn

from services.cli import uvicorn_options

T = TypeVar("T")


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


@contextmanager
def in_own_loop(context: AbstractAsyncContextManager[T], *, name: str = "own-loop") -> Iterator[T]:
    """Enter `context` in a new event loop on a thread of its own for the length of the block.

    What it serves keeps answering while the calling thread blocks on a request to it. An
    error entering or leaving `context` is raised here, in the calling thread.
    """
    entered: Future[T] = Future()
    finished: Future[None] = Future()
    stop: Future[None] = Future()  # set from the calling thread; awaited in the loop

    async def hold() -> None:
        async with context as value:
            entered.set_result(value)
            await asyncio.wrap_future(stop)

    def run() -> None:
        try:
            asyncio.run(hold())
            finished.set_result(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            if not entered.done():
                entered.set_exception(exc)
            finished.set_exception(exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        yield entered.result()
    finally:
        stop.set_result(None)
        thread.join(60)
        if not entered.exception():
            finished.result(timeout=0)
