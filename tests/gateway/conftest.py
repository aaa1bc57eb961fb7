"""Fixtures of the gateway tests: real uvicorn servers on free ports, in this process's event loop.

`gateway` fronts the four real services. `edge_gateway` fronts a harder world: `selection`
is a stand-in service (a small real ASGI app that echoes, streams, fails and sleeps on
request), `tracking` a raw server that hangs up on some requests, `mentoring` a port where
nothing listens, and `courses` the real courses service; its proxy timeout is short so a
slow answer becomes a 504 quickly.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import socket
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from importlib import import_module

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response, StreamingResponse

from services.gateway.app import create_app as gateway_app
from services.gateway.proxy import PROXIED
from services.gateway.settings import GatewaySettings
from shared import tracing
from shared.auth import Public
from shared.context import request_id_var, traceparent_var
from shared.middleware import RequestContextMiddleware
from shared.problems import install_problem_handlers
from tests.servers import serve

EDGE_TIMEOUT = 0.5
EDGE_MAX_BYTES = 64 * 1024


@contextmanager
def dead_port() -> Iterator[int]:
    """A port that refuses connections: bound (so nobody else takes it) but not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def real_service(name: str, database_url: str) -> FastAPI:
    module = import_module(f"services.{name}.app")
    settings_module = import_module(f"services.{name}.settings")
    settings_cls = next(
        v for k, v in vars(settings_module).items() if k.endswith("Settings") and getattr(v, "service_name", None) == name
    )
    # Events off: the gateway's tests are about its HTTP; tests/directory/ test the read model.
    return module.create_app(settings_cls(database_url=database_url, env="test", events_enabled=False, directory_bootstrap=False))


# ---------------------------------------------------------------- the stand-in service


class Item(BaseModel):
    name: str
    size: int


@dataclass
class StandIn:
    app: FastAPI
    hits: Counter = field(default_factory=Counter)


def standin_app() -> StandIn:
    """A small real service for what the real ones cannot do yet: echo, odd statuses, streams, sleep."""
    app = FastAPI(
        title="Stand-in", docs_url=None, redoc_url=None,
        generate_unique_id_function=lambda route: f"standin_{route.name}",
    )
    standin = StandIn(app)
    install_problem_handlers(app)
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

    async def echo(request: Request, rest: str) -> Response:
        standin.hits["echo"] += 1
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "path": request.scope["path"],
                "raw_path": request.scope["raw_path"].decode("latin-1"),
                "query": request.scope["query_string"].decode("latin-1"),
                "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.scope["headers"]],
                "body": body.decode("latin-1"),
                "request_id": request_id_var.get(),
                "traceparent": traceparent_var.get(),
            },
            headers={"x-upstream": "echo"},
        )

    for method in methods:
        app.add_api_route("/echo/{rest:path}", echo, methods=[method], name=f"echo_{method.lower()}", dependencies=[Public])

    @app.get("/status/{code}", dependencies=[Public])
    async def status(code: int) -> Response:
        body = b"" if code in (204, 304) else f"status {code}".encode()
        return Response(
            body, status_code=code, media_type="text/plain",
            headers={"x-upstream": "status", "set-cookie": "flavour=oat; Path=/; HttpOnly"},
        )

    @app.post("/items", status_code=201, dependencies=[Public])
    async def create_item(item: Item) -> Item:
        standin.hits["items"] += 1
        return item

    @app.get("/slow", dependencies=[Public])
    async def slow(seconds: float) -> dict:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    @app.get("/stream", dependencies=[Public])
    async def stream(chunks: int, size: int) -> StreamingResponse:
        async def parts():
            for i in range(chunks):
                yield bytes([65 + i % 26]) * size

        return StreamingResponse(parts(), media_type="application/octet-stream")

    @app.get("/gzip", dependencies=[Public])
    async def gzipped() -> Response:
        return Response(gzip.compress(b"hello " * 100), media_type="text/plain", headers={"content-encoding": "gzip"})

    @app.get("/openapi-hits", dependencies=[Public])
    async def openapi_hits() -> dict:
        return {"hits": standin.hits["openapi"]}

    original_openapi = app.openapi

    def counted_openapi() -> dict:
        standin.hits["openapi"] += 1
        return original_openapi()

    app.openapi = counted_openapi
    app.add_middleware(RequestContextMiddleware, service="standin", max_body_bytes=10 * 1024 * 1024)
    return standin


class HangUp:
    """A raw HTTP/1.1 server that hangs up, unanswered, on the first request to each /hang-up-once/ path.

    That is what a proxy meets when a service closes an idle keep-alive connection just as
    the proxy reuses it. Every other request is answered 200 with what was asked.
    """

    def __init__(self) -> None:
        self.seen: Counter = Counter()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
                length = next(
                    (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
                )
                if length:
                    await reader.readexactly(length)
                self.seen[(method, target)] += 1
                if target.startswith("/hang-up-once/") and self.seen[(method, target)] == 1:
                    return
                body = f"{method} {target}".encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
async def hang_up() -> AsyncIterator[tuple[HangUp, str]]:
    server = HangUp()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        listener.close()
        await listener.wait_closed()


@pytest.fixture(scope="session")
async def services(database_url: str) -> AsyncIterator[dict[str, str]]:
    """The four real services, each on its own port: name -> base URL."""
    urls: dict[str, str] = {}
    async with _all([(name, real_service(name, database_url)) for name in PROXIED], urls):
        yield urls


@asynccontextmanager
async def _all(apps, urls: dict[str, str]) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        for name, app in apps:
            urls[name] = await stack.enter_async_context(serve(app))
        yield


@pytest.fixture(scope="session")
async def standin() -> AsyncIterator[tuple[StandIn, str]]:
    s = standin_app()
    async with serve(s.app) as url:
        yield s, url


@pytest.fixture(scope="session")
async def gateway_served(database_url: str, services: dict[str, str]) -> AsyncIterator[tuple[str, FastAPI]]:
    settings = GatewaySettings(
        database_url=database_url, env="test", events_enabled=False, metrics_port=0,
        **{f"{name}_url": url for name, url in services.items()},
    )
    app = gateway_app(settings)
    async with serve(app) as url:
        yield url, app


@pytest.fixture(scope="session")
def gateway(gateway_served: tuple[str, FastAPI]) -> str:
    """The gateway in front of the four real services."""
    return gateway_served[0]


@pytest.fixture(scope="session")
def gateway_metrics(gateway_served: tuple[str, FastAPI]) -> str:
    """Where that gateway serves its metrics (SPROUT_METRICS_PORT; not on its public port)."""
    return f"http://127.0.0.1:{gateway_served[1].state.metrics_port}"


@pytest.fixture(scope="session")
def dead() -> Iterator[int]:
    with dead_port() as port:
        yield port


@pytest.fixture(scope="session", params=["direct", "stacked"])
async def edge_gateway(request, database_url: str, services: dict[str, str], standin, dead: int, hang_up) -> AsyncIterator[str]:
    """Twice: with /api/ going straight to the proxy (as in production), and through FastAPI's
    whole stack and router, the way it goes when tracing is on; both must behave alike."""
    _, standin_url = standin
    settings = GatewaySettings(
        database_url=database_url, env="test", events_enabled=False,
        selection_url=standin_url, tracking_url=hang_up[1],
        mentoring_url=f"http://127.0.0.1:{dead}", courses_url=services["courses"],
        proxy_timeout=EDGE_TIMEOUT, proxy_buffer_bytes=1024, request_max_bytes=EDGE_MAX_BYTES,
        openapi_cache_seconds=30,
    )
    # Trusting no proxy (SPROUT_TRUSTED_PROXIES unset): the test client is then an outside
    # caller whose own X-Forwarded-* headers must not be believed.
    with pytest.MonkeyPatch.context() as mp:
        if request.param == "stacked":
            mp.setattr(tracing, "tracing_enabled", lambda: True)
        app = gateway_app(settings)
    assert app.state.proxy_direct is (request.param == "direct")
    async with serve(app) as url:
        yield url


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as c:
        yield c


class Captured(logging.Handler):
    """Log records with the request id and traceparent that were current when each was logged."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[logging.LogRecord, str | None, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record, request_id_var.get(), traceparent_var.get()))

    def access(self, path: str) -> list[tuple[logging.LogRecord, str | None, str | None]]:
        return [r for r in self.records if r[0].name == "sprout.access" and getattr(r[0], "path", None) == path]


@pytest.fixture
def captured() -> Iterator[Captured]:
    handler = Captured()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
