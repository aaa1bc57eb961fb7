"""The gateway's reverse proxy: `/api/<service>/<path>` to that service, through one pooled aiohttp client.

Every request of every client passes through here, so it is written for cost per request:
a plain ASGI endpoint (no FastAPI dependency resolution, no Request object) that uvicorn
reaches through the shared middleware alone (`install_proxy`), forwarding raw bytes over
keep-alive connections to each service. Measured on two cores, a FastAPI route proxying
through `httpx.AsyncClient` reached ~0.07 of direct throughput and one through aiohttp
~0.42; `tests/perf/gateway.py` measures this one.

It still behaves like every other route of the gateway: the shared middleware echoes the
request id, caps the body, checks the content type, logs and counts it, and its own
failures are `ProblemError`s answered by the app's problem handler.
"""
from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

import aiohttp
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from yarl import URL

from shared import tracing
from shared.context import request_id_var
from shared.middleware import RequestContextMiddleware
from shared.problems import ProblemError
from shared.tracing import current_traceparent, new_traceparent

from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

# The services behind the gateway. The gateway's own routes live at the root, not under
# /api/gateway/, so `gateway` is not one of them.
PROXIED = ("selection", "mentoring", "courses", "tracking")

PREFIX = "/api/"

# RFC 9110 7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Set by the gateway itself, so a client cannot pass its own: the forwarding headers would
# otherwise let a client claim any address, and aiohttp writes Host and Content-Length.
_REQUEST_DROPPED = HOP_BY_HOP | {
    b"host",
    b"content-length",
    b"expect",
    b"x-request-id",
    b"traceparent",
    b"forwarded",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    b"x-forwarded-port",
    b"x-real-ip",
}
# The gateway's own server answers with its own Date and Server, and the shared middleware
# adds X-Request-ID (the same id the service echoes): the service's copies would be duplicates.
_RESPONSE_DROPPED = HOP_BY_HOP | {b"date", b"server", b"x-request-id"}

# Safe to send twice: a pooled connection the service closed just as it was reused fails
# before the service saw the request, and is retried once on a fresh connection.
_RETRYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_RETRYABLE_ERRORS = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


class _RouteLabel:
    """What the shared middleware reads from `scope["route"]` to label metrics: one per service."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


class _Upstream:
    """A service behind the gateway. Its scheme, host and port come from configuration alone:
    a request's URL is built from these parts and the request's path, never by joining strings."""

    __slots__ = ("name", "scheme", "host", "port", "base_path", "label")

    def __init__(self, name: str, url: str) -> None:
        parsed = URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host or parsed.user or parsed.password:
            raise ValueError(f"SPROUT_{name.upper()}_URL must be http(s)://host[:port][/path], not {url!r}")
        if parsed.raw_query_string or parsed.raw_fragment:
            raise ValueError(f"SPROUT_{name.upper()}_URL takes no query or fragment: {url!r}")
        self.name = name
        self.scheme = parsed.scheme
        self.host = parsed.raw_host
        self.port = parsed.explicit_port
        self.base_path = parsed.raw_path.rstrip("/")
        self.label = _RouteLabel(f"/api/{name}/{{path}}")

    def url(self, path: str, query: str) -> URL:
        return URL.build(
            scheme=self.scheme, host=self.host, port=self.port, path=self.base_path + path, query_string=query, encoded=True
        )


_UNKNOWN = _RouteLabel("/api/{service}/{path}")


class GatewayProxy:
    """The ASGI endpoint of the proxy route, and the owner of its aiohttp session."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.upstreams = {name: _Upstream(name, settings.service_url(name)) for name in PROXIED}
        self.timeout = aiohttp.ClientTimeout(total=settings.proxy_timeout, sock_connect=settings.proxy_connect_timeout)
        self.buffer_limit = settings.proxy_buffer_bytes
        self.session: aiohttp.ClientSession | None = None

    def route(self) -> Route:
        # One route for every service: the service is parsed from the path here, which costs
        # one regex match per request instead of one per service.
        return Route(PREFIX + "{rest:path}", endpoint=self, name="proxy", include_in_schema=False)

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """One pooled client for the process, closed on shutdown; `app.state.http` shares it."""
        s = self.settings
        connector = aiohttp.TCPConnector(
            limit=s.proxy_max_connections,
            limit_per_host=s.proxy_max_connections_per_service,
            keepalive_timeout=s.proxy_keepalive,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=self.timeout,
            # Bytes pass through untouched: a compressed answer stays compressed for the client.
            auto_decompress=False,
            # The client's cookies travel as its Cookie header; the gateway keeps none.
            cookie_jar=aiohttp.DummyCookieJar(),
            # Send what the client sent, not aiohttp's defaults: an Accept-Encoding the client
            # never asked for would reach it compressed (auto_decompress is off).
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
            trust_env=False,
        )
        self.session = session
        app.state.http = session
        try:
            yield
        finally:
            self.session = None
            await session.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        name, rest = _split_target(raw)
        upstream = self.upstreams.get(name)
        if upstream is None:
            scope["route"] = _UNKNOWN
            if not name:
                raise ProblemError("not_found", path=scope["path"])
            raise ProblemError("unknown_service", service=name)
        scope["route"] = upstream.label
        path = _forwarded_path(rest)
        if unquote(path) in _NOT_PROXIED:
            # The services' own metrics are for the scraper on their ports, not for the public.
            raise ProblemError("not_found", path=scope["path"])
        query = _forwarded_query(scope.get("query_string", b""))

        # The token is not refused here: the limits layer in front (services/gateway/limits)
        # has already read it to key the rate limit, and every service verifies it itself
        # (ARCHITECTURE "Auth"), answering 401 with its own problem.

        method: str = scope["method"]
        headers, has_body = self._request_headers(scope)
        body = await _read_body(receive) if has_body else None
        if body is _DISCONNECTED:
            return
        url = upstream.url(path, query)

        session = self.session
        if session is None:  # only between shutdown and the last request
            raise ProblemError("service_unavailable", service=name)
        attempts = 2 if method in _RETRYABLE_METHODS else 1
        for attempt in range(attempts):
            try:
                async with session.request(method, url, headers=headers, data=body, allow_redirects=False) as resp:
                    await self._respond(resp, send)
                return
            except _ResponseBroken:
                # The answer had started: nothing left but to cut the connection, which tells
                # the client the body is incomplete. The access log records the status.
                log.warning("upstream answer broke off", extra={"upstream": name})
                return
            except TimeoutError as exc:
                s = self.settings
                waited = s.proxy_connect_timeout if isinstance(exc, aiohttp.ConnectionTimeoutError) else s.proxy_timeout
                raise ProblemError("service_timeout", service=name, timeout=waited) from None
            except _RETRYABLE_ERRORS:
                if attempt + 1 < attempts:
                    continue
                raise ProblemError("service_unavailable", service=name) from None
            except aiohttp.ClientError:
                raise ProblemError("service_unavailable", service=name) from None

    def _request_headers(self, scope: Scope) -> tuple[list[tuple[str, str]], bool]:
        out: list[tuple[str, str]] = []
        host = None
        has_body = False
        connection_tokens: frozenset[bytes] = frozenset()
        for k, v in scope["headers"]:
            if k in _REQUEST_DROPPED:
                if k == b"host":
                    host = v
                elif k == b"content-length":
                    has_body = v != b"0"
                elif k == b"transfer-encoding":
                    has_body = True
                elif k == b"connection":
                    # Headers the client names in Connection are hop-by-hop too (RFC 9110 7.6.1).
                    connection_tokens = frozenset(t.strip().lower() for t in v.split(b","))
                continue
            out.append((k.decode("latin-1"), v.decode("latin-1")))
        if connection_tokens - {b"close", b"keep-alive"}:
            out = [(k, v) for k, v in out if k.encode("latin-1") not in connection_tokens]

        out.append(("x-request-id", request_id_var.get() or ""))
        out.append(("traceparent", current_traceparent() or new_traceparent()))
        client = scope.get("client")
        if client:
            out.append(("x-forwarded-for", client[0]))
        out.append(("x-forwarded-proto", scope.get("scheme", "http")))
        if host is not None:
            out.append(("x-forwarded-host", host.decode("latin-1")))
        return out, has_body

    async def _respond(self, resp: aiohttp.ClientResponse, send: Send) -> None:
        headers = [(k, v) for k, v in resp.raw_headers if k.lower() not in _RESPONSE_DROPPED]
        length = resp.content_length
        if length is not None and length <= self.buffer_limit:
            # The common case: small JSON. One read, one send, no iterator.
            try:
                body = await resp.read()
            except aiohttp.ClientPayloadError:
                raise aiohttp.ServerDisconnectedError() from None
            await send({"type": "http.response.start", "status": resp.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        try:
            async for chunk in resp.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _ResponseBroken() from exc
        await send({"type": "http.response.body", "body": b""})


# ---------------------------------------------------------------- the request target

# Paths of a service the gateway does not forward (compared after validation, so no encoding
# or dot segment reaches them another way).
_NOT_PROXIED = frozenset({"/metrics", "/metrics/"})
_SERVICE_NAME = re.compile(rb"[A-Za-z0-9_.-]{1,50}")
# What a forwarded path or query may hold: printable ASCII, no space. Everything else a
# client means must be percent-encoded, and a raw byte outside this range is not HTTP.
_PRINTABLE = re.compile(rb"[\x21-\x7e]*")
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
# Bytes that may not arrive percent-encoded in a path: control characters (NUL, CR, LF...),
# and slashes of either kind, which would turn one segment into two behind the gateway.
_FORBIDDEN_ESCAPED = frozenset([*range(0x00, 0x20), 0x7F, ord("/"), ord("\\")])


def _split_target(raw: bytes) -> tuple[str, bytes]:
    """The service named by the raw path and the raw rest of the path after it.

    The service is read from the path as the client sent it, not from the decoded path:
    `/api/selection%2F@host/...` names no service called `selection`.
    """
    sent = raw.decode("latin-1")[:200]
    if not raw.startswith(PREFIX.encode()):
        raise ProblemError("invalid_path", path=sent, reason="the /api/ prefix is percent-encoded")
    segment, slash, rest = raw[len(PREFIX) :].partition(b"/")
    if not segment:
        return "", b""
    if not _SERVICE_NAME.fullmatch(segment):
        raise ProblemError("invalid_path", path=sent, reason="the service name holds characters no service name has")
    return segment.decode("ascii"), slash + rest


def _forwarded_path(rest: bytes) -> str:
    """The path to send to the service: the client's own encoding, after refusing what could
    mean something else behind the gateway than in front of it."""
    if not rest:
        return "/"
    text = rest.decode("latin-1")
    if not _PRINTABLE.fullmatch(rest) or b"\\" in rest:
        raise ProblemError("invalid_path", path=text[:200], reason="raw control, space, non-ASCII or backslash characters")
    if b"%" in rest:
        for match in _ESCAPE.finditer(rest):
            if int(match.group(1), 16) in _FORBIDDEN_ESCAPED:
                raise ProblemError("invalid_path", path=text[:200], reason="an encoded slash, backslash or control character")
        if rest.count(b"%") != len(_ESCAPE.findall(rest)):
            raise ProblemError("invalid_path", path=text[:200], reason="a % that starts no escape")
    segments = rest.split(b"/")[1:]
    for i, segment in enumerate(segments):
        if not segment and i < len(segments) - 1:
            raise ProblemError("invalid_path", path=text[:200], reason="an empty segment (//)")
        if unquote_to_bytes(segment) in (b".", b".."):
            raise ProblemError("invalid_path", path=text[:200], reason="a dot segment (. or ..)")
    return text


def _forwarded_query(query: bytes) -> str:
    if not query:
        return ""
    if not _PRINTABLE.fullmatch(query) or b"#" in query:
        raise ProblemError("invalid_path", path="?" + query.decode("latin-1")[:200], reason="raw control, space, non-ASCII or # in the query")
    return query.decode("ascii")


class _ResponseBroken(Exception):
    """The service's answer broke off after its status and headers reached the client."""


_DISCONNECTED: Any = object()


async def _read_body(receive: Receive) -> bytes:
    # Read whole: the shared middleware caps bodies (SPROUT_REQUEST_MAX_BYTES) and raises
    # past the cap, which answers 413 before anything reaches the service.
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return _DISCONNECTED
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def install_proxy(app: Any, proxy: GatewayProxy) -> None:
    """Route /api/ to the proxy, by the shortest way that keeps the gateway's behaviour.

    The proxy route is registered like any other, and with tracing on that is the way
    requests take (the OpenTelemetry middleware wraps the app's stack). Otherwise /api/
    requests go straight from uvicorn into the shared middleware, configured exactly as
    the app configured it, and on to the proxy: FastAPI's own layers (server-error and
    exception middleware, body-limit and telemetry wrappers, exit stack, router) each cost
    a coroutine per request and per message and add nothing the proxy needs: the shared
    middleware answers unexpected errors itself, and a `ProblemError` goes to the app's
    own handler, as it would through the stack. Measured: about a third less CPU per
    proxied request.
    """
    # First, so the proxied requests that take the router match on its first try.
    app.router.routes.insert(0, proxy.route())
    configured = next((m for m in app.user_middleware if m.cls is RequestContextMiddleware), None)
    app.state.proxy_direct = not tracing.tracing_enabled() and configured is not None
    if not app.state.proxy_direct:
        return

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await proxy(scope, receive, send)
        except ProblemError as exc:
            response = await app.exception_handlers[ProblemError](Request(scope, receive), exc)
            await response(scope, receive, send)

    direct = RequestContextMiddleware(endpoint, *configured.args, **configured.kwargs)
    build = app.build_middleware_stack

    def build_with_direct_path() -> Any:
        stack = build()

        async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"].startswith(PREFIX):
                await direct(scope, receive, send)
            else:
                await stack(scope, receive, send)

        return dispatch

    # Starlette builds the stack on the first request by calling this; the app, its routes
    # and its state stay what they are for everything else.
    app.build_middleware_stack = build_with_direct_path
