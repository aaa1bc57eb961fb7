"""Access tokens: the claims the gateway signs (EdDSA JWTs) and the verifier every service runs.

A service trusts a request only because of a valid token, never because of where it came
from. Keys come from the gateway's JWKS (`/.well-known/jwks.json`), cached by key id and
fetched again when a token names a key the cache does not know (key rotation). A token whose
sign-in has ended (account disabled, password reset: shared/revocations.py) is refused
although its signature is good.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import jwt
from jwt import PyJWK

log = logging.getLogger(__name__)

ALGORITHM = "EdDSA"
ACCESS = "access"
# A Sprout service calling another with its own client-credentials token: a role only a
# machine client holds. Identity never gives it to a person, and a person's token naming
# it (a bug elsewhere, or a hand-made token) does not confer it.
SERVICE = "service"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a person (user) or a machine client (partner university, service)."""

    id: str
    kind: Literal["user", "client"]
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    school_id: str | None = None
    # The partner university a partner (machine client or person) speaks for.
    partner_id: str | None = None
    name: str | None = None
    token_id: str | None = None
    # `iat`, to the millisecond: a revocation refuses the tokens issued at or before it.
    issued_at: float = 0.0
    expires_at: float = 0.0
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def has_role(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)

    def has_scopes(self, *scopes: str) -> bool:
        return set(scopes) <= self.scopes

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        kind = "client" if claims.get("kind") == "client" else "user"
        roles = frozenset(claims.get("roles") or ())
        return cls(
            id=str(claims["sub"]),
            kind=kind,
            roles=roles if kind == "client" else roles - {SERVICE},
            scopes=frozenset((claims.get("scope") or "").split()),
            school_id=claims.get("school_id"),
            partner_id=claims.get("partner_id"),
            name=claims.get("name"),
            token_id=claims.get("jti"),
            issued_at=float(claims["iat"]),
            expires_at=float(claims["exp"]),
            claims=dict(claims),
        )


class TokenError(Exception):
    """A token that must not be trusted; `code` is a catalogue code (invalid_token, token_expired)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class KeySource(Protocol):
    async def key(self, kid: str) -> PyJWK | None: ...


class Revocations(Protocol):
    """The ended sign-ins this process knows (shared/revocations.py's RevocationList)."""

    def refuses(self, principal: Principal) -> bool: ...


class StaticKeySource:
    """Keys handed over directly: the gateway's own keys, and tests."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = {k["kid"]: PyJWK(k, ALGORITHM) for k in jwks.get("keys", ())}

    async def key(self, kid: str) -> PyJWK | None:
        return self._keys.get(kid)


class JwksKeySource:
    """The gateway's published keys, fetched over HTTP and cached by key id.

    An unknown kid triggers at most one fetch per `min_refresh` seconds, so a flood of
    tokens with made-up key ids cannot turn into a flood of requests to the gateway.
    """

    def __init__(self, url: str, *, ttl: float = 300.0, min_refresh: float = 10.0, timeout: float = 3.0) -> None:
        self.url = url
        self.ttl = ttl
        self.min_refresh = min_refresh
        self.timeout = timeout
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def _refresh(self) -> None:
        import httpx

        async with httpx.AsyncClient(timeout=self.timeout) as client:
            r = await client.get(self.url)
            r.raise_for_status()
            doc = r.json()
        keys = {}
        for k in doc.get("keys", ()):
            if k.get("kid") and k.get("kty") == "OKP":
                keys[k["kid"]] = PyJWK(k, ALGORITHM)
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def key(self, kid: str) -> PyJWK | None:
        stale = time.monotonic() - self._fetched_at > self.ttl
        if kid in self._keys and not stale:
            return self._keys[kid]
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            if (kid not in self._keys and age > self.min_refresh) or age > self.ttl:
                try:
                    await self._refresh()
                except Exception as exc:  # the gateway may be restarting; keep the keys we had
                    log.warning("could not fetch JWKS", extra={"url": self.url, "error": repr(exc)})
                    self._fetched_at = time.monotonic() - self.ttl + self.min_refresh
        return self._keys.get(kid)


class TokenVerifier:
    """Checks signature (EdDSA only, key by kid), expiry, issuer, audience and token type, and
    that the token's sign-in has not ended since it was issued (`revocations`)."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway: float = 5.0,
        cache_size: int = 4096,
        revocations: Revocations | None = None,
    ):
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.revocations = revocations
        # A verified token is good until it expires; re-checking its signature on every
        # request of a busy client would be most of the cost of authentication.
        self._cache: OrderedDict[str, Principal] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str) -> Principal:
        principal = await self._verified(token)
        # Asked on every request, of cached tokens too: that is what makes a revocation reach
        # tokens this process has already seen.
        if self.revocations is not None and self.revocations.refuses(principal):
            raise TokenError("invalid_token", "the sign-in has ended (account or client disabled, or its password reset)")
        return principal

    async def _verified(self, token: str) -> Principal:
        cached = self._cache.get(token)
        now = time.time()
        if cached is not None:
            if cached.expires_at + self.leeway > now:
                self._cache.move_to_end(token)
                return cached
            del self._cache[token]
            raise TokenError("token_expired", "the access token has expired")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise TokenError("invalid_token", "not a JWT") from None
        # Pinning the algorithm here, before any key is chosen, is what stops `alg: none`
        # and HS256-signed-with-the-public-key forgeries.
        if header.get("alg") != ALGORITHM:
            raise TokenError("invalid_token", f"algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("invalid_token", "no key id")
        key = await self.keys.key(kid)
        if key is None:
            raise TokenError("invalid_token", "unknown signing key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("token_expired", "the access token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise TokenError("invalid_token", type(exc).__name__) from None
        if claims.get("typ") != ACCESS:
            raise TokenError("invalid_token", "not an access token")
        principal = Principal.from_claims(claims)
        self._cache[token] = principal
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return principal
