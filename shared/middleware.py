"""The one ASGI middleware every app runs first: request id, trace context, body limits,
content-type check, access log and Prometheus metrics.

It is plain ASGI rather than BaseHTTPMiddleware because the gateway sits in front of every
request and each layer of Starlette's middleware costs a task and a queue per request.

Bodies are capped at `max_body_bytes` (SPROUT_REQUEST_MAX_BYTES), except on routes that
declare their own limit (shared/routes.body_limit), which `route_limits` looks up.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.context import request_id_var, traceparent_var
from shared.problems import language, problem_body, PROBLEM_JSON
from shared.tracing import valid_traceparent

log = logging.getLogger("sprout.access")
errors_log = logging.getLogger(__name__)

REQUESTS = Counter("sprout_http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"])
LATENCY = Histogram(
    "sprout_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["service", "method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# What a body may be: JSON (and +json types), forms for the OAuth2 token endpoint and uploads.
_ACCEPTED_TYPES = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _accepted(content_type: str) -> bool:
    main = content_type.split(";", 1)[0].strip().lower()
    return main in _ACCEPTED_TYPES or (main.startswith("application/") and main.endswith("+json"))


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"body over {limit} bytes")
        self.limit = limit


class RequestContextMiddleware:
    def __init__(
        self, app: ASGIApp, *, service: str, max_body_bytes: int, access_log: bool = True, route_limits: Any = None
    ) -> None:
        self.app = app
        self.service = service
        self.max_body = max_body_bytes
        self.access_log = access_log
        # shared.routes.RouteBodyLimits, or None where no route may differ.
        self.route_limits = route_limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        rid = tp = ctype = clen = lang = None
        for k, v in scope["headers"]:
            if k == b"x-request-id":
                rid = v.decode("latin-1")
            elif k == b"traceparent":
                tp = v.decode("latin-1")
            elif k == b"content-type":
                ctype = v.decode("latin-1")
            elif k == b"content-length":
                clen = v
            elif k == b"accept-language":
                lang = v.decode("latin-1")
        if not rid or not _REQUEST_ID.match(rid):
            rid = uuid.uuid4().hex
        rid_token = request_id_var.set(rid)
        tp_token = traceparent_var.set(valid_traceparent(tp))
        scope.setdefault("state", {})["request_id"] = rid
        rid_header = (b"x-request-id", rid.encode("latin-1"))

        method = scope["method"]
        status = 500
        started = False
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        async def answer(code: str, **params) -> None:
            import json

            body = problem_body(code, lang=language(lang), instance=scope.get("path"), **params)
            payload = json.dumps(body, ensure_ascii=False).encode()
            await send_wrapper(
                {
                    "type": "http.response.start",
                    "status": body["status"],
                    "headers": [
                        (b"content-type", PROBLEM_JSON.encode()),
                        (b"content-length", str(len(payload)).encode()),
                    ],
                }
            )
            await send_wrapper({"type": "http.response.body", "body": payload})

        limit = self.max_body
        if self.route_limits is not None and method in _BODY_METHODS:
            limit = self.route_limits.limit(method, scope["path"]) or limit
        try:
            if method in _BODY_METHODS and ctype is not None and not _accepted(ctype):
                await answer("unsupported_media_type", content_type=ctype.split(";")[0])
            elif clen is not None and (not clen.isdigit() or int(clen) > limit):
                await answer("payload_too_large", limit=limit)
            else:
                seen = 0

                async def limited_receive() -> Message:
                    nonlocal seen
                    message = await receive()
                    if message["type"] == "http.request":
                        seen += len(message.get("body", b""))
                        if seen > limit:
                            raise BodyTooLarge(limit)
                    return message

                try:
                    await self.app(scope, limited_receive, send_wrapper)
                except BodyTooLarge:
                    if started:
                        raise
                    await answer("payload_too_large", limit=limit)
                except Exception:
                    # Answered here rather than by Starlette's outermost handler, which runs after
                    # this middleware has reset the request id: the 500's body, header and log
                    # line would all lack it.
                    if started:
                        raise
                    errors_log.exception("unhandled error")
                    await answer("internal_error", request_id=rid)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            REQUESTS.labels(self.service, method, template, str(status)).inc()
            LATENCY.labels(self.service, method, template).observe(elapsed)
            if self.access_log and scope["path"] not in _QUIET_PATHS:
                # The gateway has already put the real client here (services/gateway/limits/clients.py).
                client = scope.get("client")
                log.info(
                    "%s %s %s",
                    method,
                    scope["path"],
                    status,
                    extra={
                        "method": method, "path": scope["path"], "status": status,
                        "duration_ms": round(elapsed * 1000, 2), "client": client[0] if client else None,
                    },
                )
            request_id_var.reset(rid_token)
            traceparent_var.reset(tp_token)
