"""Service-to-service calls: this service's own client-credentials token, fetched from the gateway and reused.

A service calls another only with a token of its own machine client (role `service`;
`sprout client create --role service`), never trusted because of where it comes from.
Use it as the `auth` of an httpx client::

    tokens = ServiceTokenProvider.from_settings(settings)
    async with httpx.AsyncClient(base_url=settings.mentoring_url, auth=tokens) as http:
        r = await http.get("/mentees")

The token is fetched on first use and kept until shortly before it expires; a 401 from the
callee (the client was re-keyed, or the gateway rotated past the token) drops it and
retries the request once with a fresh one. `with_one_retry` tries a call once more after a
429 or 503 that asks for a short wait: the gateway gives each replica of a service a
generous budget of its own (services/gateway/limits/edge.py), so a 429 means a burst, not
a person to refuse.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from datetime import UTC, datetime
from urllib.parse import quote_plus

import httpx

from shared.settings import BaseServiceSettings


class ServiceTokenError(RuntimeError):
    """The gateway would not issue this service's token (wrong secret, disabled client, gateway down).

    `status` is the gateway's answer (None when it gave none); on a 429 or 503, `retry_after`
    is the wait it asked for in seconds, when it said.
    """

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def retry_after(response: httpx.Response) -> float | None:
    """The seconds a `Retry-After` header asks for (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# A limit or a brief outage of the gateway (or the callee): worth one more try, if the wait is short.
RETRIED_STATUSES = frozenset({429, 503})
# The wait before that try when the answer asks for none.
DEFAULT_RETRY_WAIT = 0.5


async def with_one_retry(
    send: Callable[[], Awaitable[httpx.Response]], *, max_wait: float = 2.0
) -> httpx.Response:
    """`send()`, and once more after the wait a 429 or 503 asks for (its Retry-After), if that is
    at most `max_wait` seconds; a request waiting on it is a person waiting. The last answer is
    returned (or the token error raised) for the caller to judge; network errors are not retried.
    """
    error: ServiceTokenError | None = None
    try:
        answer = await send()
    except ServiceTokenError as exc:
        if exc.status not in RETRIED_STATUSES:
            raise
        error, wait = exc, exc.retry_after
    else:
        if answer.status_code not in RETRIED_STATUSES:
            return answer
        wait = retry_after(answer)
    wait = DEFAULT_RETRY_WAIT if wait is None else wait
    if wait > max_wait:
        if error is not None:
            raise error
        return answer
    await asyncio.sleep(wait)
    return await send()


class ServiceTokenProvider(httpx.Auth):
    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        margin: float = 60.0,
        timeout: float = 5.0,
    ) -> None:
        self.token_url = token_url
        self.scope = scope
        # Renew this long before expiry, so a token never runs out between fetch and use.
        self.margin = margin
        self.timeout = timeout
        # RFC 6749 2.3.1: each part is form-encoded before the two are joined.
        pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
        self._basic = "Basic " + base64.b64encode(pair).decode("ascii")
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self._http: httpx.AsyncClient | None = None
        self.fetches = 0

    @classmethod
    def from_settings(cls, settings: BaseServiceSettings, **kwargs) -> ServiceTokenProvider:
        if not settings.service_client_id or not settings.service_client_secret:
            raise ServiceTokenError(
                f"{settings.service_name} has no machine client: set SPROUT_SERVICE_CLIENT_ID and "
                "SPROUT_SERVICE_CLIENT_SECRET (`sprout client create --role service`)"
            )
        return cls(
            settings.gateway_url.rstrip("/") + "/auth/token",
            settings.service_client_id,
            settings.service_client_secret,
            **kwargs,
        )

    async def token(self) -> str:
        if self._token is not None and time.monotonic() < self._renew_at:
            return self._token
        async with self._lock:
            # Whoever held the lock may have fetched it already.
            if self._token is None or time.monotonic() >= self._renew_at:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def _fetch(self) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout)
        data = {"grant_type": "client_credentials"}
        if self.scope:
            data["scope"] = self.scope
        started = time.monotonic()
        try:
            r = await self._http.post(self.token_url, data=data, headers={"Authorization": self._basic})
        except httpx.HTTPError as exc:
            raise ServiceTokenError(f"the gateway did not answer the token request: {exc!r}") from exc
        if r.status_code != 200:
            try:
                code = r.json().get("code")
            except ValueError:
                code = None
            raise ServiceTokenError(
                f"the gateway refused this service's token: {r.status_code} {code or r.text[:200]}",
                status=r.status_code, retry_after=retry_after(r),
            )
        body = r.json()
        self.fetches += 1
        self._token = body["access_token"]
        lifetime = float(body.get("expires_in", 0))
        self._renew_at = started + max(lifetime - self.margin, lifetime / 2)

    def invalidate(self) -> None:
        self._token = None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and self._token == token:
            self.invalidate()
            request.headers["Authorization"] = f"Bearer {await self.token()}"
            yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("ServiceTokenProvider works with httpx.AsyncClient only")
