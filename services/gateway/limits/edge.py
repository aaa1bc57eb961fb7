"""The gateway's outermost layers: who the client is, CORS, then the rate limit, in front of every request, proxied ones included.

They wrap the whole application (its middleware stack and the proxy's fast path alike),
so `/api/...` requests are limited exactly like the gateway's own routes. The client's
address is settled first (limits/clients.py, `SPROUT_TRUSTED_PROXIES`). The rate limit
keys a caller by the principal of a valid bearer token (verified here with the gateway's
local keys; the verifier caches verified tokens, so a busy caller costs a dictionary
lookup), else by client address. A token that does not verify is not refused here: the
request is limited by address and goes on, and the service (or the gateway's own route)
answers 401 itself, since every service verifies every token.

Our own services (machine clients with the role `service`, asking for consent checks and
the like) have a budget of their own, generous and kept per client and calling address,
so each replica of a service has its own bucket: they never share one public bucket, ten
replicas get ten times the budget, and a service caught in a loop is still stopped.

Headers follow the IETF draft "RateLimit header fields for HTTP": `RateLimit-Limit` (the
burst), `RateLimit-Remaining`, `RateLimit-Reset` (seconds until the bucket is full again),
and on a 429 `Retry-After` (seconds until one more request is allowed).
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway.limits.buckets import Decision, TokenBuckets
from services.gateway.limits.clients import ClientAddress, TrustedProxies
from services.gateway.settings import GatewaySettings
from shared.auth import SERVICE
from shared.middleware import RequestContextMiddleware
from shared.problems import PROBLEM_JSON, language, problem_body
from shared.tokens import TokenError

# Probes come from the orchestrator, which must never be told to slow down.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Where a password or a client secret is tried: limited by address, more tightly.
TOKEN_PATHS = frozenset({"/auth/token", "/auth/revoke"})

CORS_ALLOW_HEADERS = (
    "Authorization", "Content-Type", "Accept-Language", "Idempotency-Key", "If-Match", "If-None-Match",
    "X-Request-ID", "traceparent",
)
CORS_EXPOSE_HEADERS = (
    "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After",
    "X-Request-ID", "ETag", "Location", "Idempotent-Replayed", "WWW-Authenticate",
)
CORS_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class RateLimiter:
    """ASGI middleware: one token bucket per caller, `RateLimit-*` on every answer, 429 past the limit."""

    def __init__(self, app: ASGIApp | None, *, gateway: FastAPI, settings: GatewaySettings) -> None:
        self.app = app
        self.gateway = gateway
        self.principals = TokenBuckets(settings.rate_limit_per_minute, settings.rate_limit_burst)
        self.anonymous = TokenBuckets(settings.rate_limit_anonymous_per_minute, settings.rate_limit_anonymous_burst)
        self.token_endpoint = TokenBuckets(settings.rate_limit_token_per_minute, settings.rate_limit_token_burst)
        self.services = TokenBuckets(settings.rate_limit_service_per_minute, settings.rate_limit_service_burst)
        self.clock = time.monotonic
        # The refusal runs inside the shared middleware, so a 429 carries a request id, is
        # logged and is counted like every other answer.
        self._refuse = RequestContextMiddleware(
            self._refusal, service=settings.service_name, max_body_bytes=settings.request_max_bytes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        authorization = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                authorization = v
                break
        # Already the real client's, behind a trusted proxy (ClientAddress runs first).
        client = scope.get("client")
        address = client[0] if client else "unknown"
        now = self.clock()
        if scope["path"] in TOKEN_PATHS:
            decision = self.token_endpoint.take(address, now)
        else:
            principal = await self._principal(authorization) if authorization else None
            if principal is None:
                decision = self.anonymous.take(address, now)
            else:
                state = scope.setdefault("state", {})
                # The gateway's own routes find the caller already verified (shared/auth.py).
                state["principal"] = principal
                state["principal_id"] = principal.id
                if principal.kind == "client" and principal.has_role(SERVICE):
                    decision = self.services.take(f"s:{principal.id}@{address}", now)
                else:
                    key = ("c:" if principal.kind == "client" else "u:") + principal.id
                    decision = self.principals.take(key, now)

        if not decision.allowed:
            scope.setdefault("state", {})["rate_limit"] = decision
            await self._refuse(scope, receive, send)
            return

        extra = _headers(decision)

        async def send_with_limits(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_limits)

    async def _principal(self, authorization: bytes):
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        verifier = getattr(self.gateway.state, "token_verifier", None)
        if verifier is None:
            return None
        try:
            return await verifier.verify(token)
        except TokenError:
            return None

    async def _refusal(self, scope: Scope, receive: Receive, send: Send) -> None:
        decision: Decision = scope["state"]["rate_limit"]
        lang = None
        for k, v in scope["headers"]:
            if k == b"accept-language":
                lang = v.decode("latin-1")
        body = problem_body("rate_limited", lang=language(lang), instance=scope["path"], retry_after=decision.retry_after)
        payload = json.dumps(body, ensure_ascii=False).encode()
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(payload)).encode()),
            (b"retry-after", str(decision.retry_after).encode()),
            *_headers(decision),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def _headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    return [
        (b"ratelimit-limit", str(decision.limit).encode()),
        (b"ratelimit-remaining", str(decision.remaining).encode()),
        (b"ratelimit-reset", str(decision.reset).encode()),
    ]


def install_limits(app: FastAPI, settings: GatewaySettings) -> None:
    """Wrap the whole application in the client's address, CORS and the rate limit (call it last in create_app)."""
    limiter = RateLimiter(None, gateway=app, settings=settings) if settings.rate_limit_enabled else None
    app.state.rate_limiter = limiter
    trusted = TrustedProxies(settings.trusted_proxies)
    origins = settings.effective_cors_origins
    build = app.build_middleware_stack

    def build_with_limits() -> ASGIApp:
        stack = build()
        if limiter is not None:
            limiter.app = stack
            stack = limiter
        if origins:
            stack = CORSMiddleware(
                stack,
                allow_origins=origins,
                allow_methods=CORS_METHODS,
                allow_headers=CORS_ALLOW_HEADERS,
                expose_headers=CORS_EXPOSE_HEADERS,
                # Bearer tokens, not cookies: the browser sends no credentials on its own.
                allow_credentials=False,
                max_age=600,
            )
        if trusted:
            # With no trusted proxy the peer is the client and there is nothing to resolve.
            stack = ClientAddress(stack, trusted)
        return stack

    app.build_middleware_stack = build_with_limits
