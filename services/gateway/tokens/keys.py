"""Signing keys: Ed25519 key pairs sealed at rest, and the cached key store every replica signs and verifies with.

Replicas agree because the key store is the database: each reads `gateway.signing_key`,
keeps it for `signing_key_cache_seconds`, and reads it again at once (at most once a second)
when a token names a key it has not seen. A rotation publishes the new key before it signs
(`signing_key_activation_delay`), and because every replica already holds the new key's
activation time, they all switch signer at the same moment without talking to each other.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt import PyJWK
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.crypto import FieldCipher
from shared import clock
from shared.tokens import ALGORITHM

log = logging.getLogger(__name__)

OPERATOR = "operator"
GENERATED = "generated"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint of an OKP key: its key id, so the id is derived, never chosen."""
    canonical = json.dumps({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class NewKey:
    kid: str
    private_raw: bytes
    public_jwk: dict[str, Any]


def generate_key() -> NewKey:
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(public)}
    kid = thumbprint(jwk)
    return NewKey(kid=kid, private_raw=raw, public_jwk={**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"})


def private_key_aad(kid: str) -> bytes:
    # Binds the sealed private key to its row: a ciphertext copied under another kid does not open.
    return b"signing_key.private_key:" + kid.encode()


def seal(cipher: FieldCipher, kid: str, private_raw: bytes) -> bytes:
    return cipher.encrypt(private_raw, aad=private_key_aad(kid))


def unseal(cipher: FieldCipher, kid: str, blob: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(cipher.decrypt(blob, aad=private_key_aad(kid)))


@dataclass(frozen=True)
class KeyRecord:
    """One row of gateway.signing_key, as the key store holds it."""

    kid: str
    public_jwk: dict[str, Any]
    origin: str
    activated_at: datetime
    retired_at: datetime | None
    published_until: datetime | None
    private_cipher: bytes | None

    def signs_at(self, now: datetime) -> bool:
        return self.activated_at <= now and (self.retired_at is None or now < self.retired_at) and self.private_cipher is not None

    def published_at(self, now: datetime) -> bool:
        return self.published_until is None or now < self.published_until

    def status(self, now: datetime) -> str:
        if not self.published_at(now):
            return "expired"
        if self.retired_at is not None and self.retired_at <= now:
            return "retired"
        if self.activated_at > now:
            return "pending"
        return "active"


def signer_of(records: Iterable[KeyRecord], now: datetime) -> KeyRecord | None:
    """The key that signs at `now`: of those able to, the most recently activated."""
    candidates = [r for r in records if r.signs_at(now)]
    return max(candidates, key=lambda r: (r.activated_at, r.kid)) if candidates else None


class NoSigningKey(RuntimeError):
    """No key may sign now (none provisioned, or every one retired)."""


class KeyStore:
    """The signing keys, read from the database and cached; a `KeySource` for the token verifier."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        cipher: FieldCipher,
        *,
        refresh_seconds: float = 30.0,
        min_refresh: float = 1.0,
    ) -> None:
        self.sessions = sessions
        self.cipher = cipher
        self.refresh_seconds = refresh_seconds
        self.min_refresh = min_refresh
        self._records: dict[str, KeyRecord] = {}
        self._verifying: dict[str, PyJWK] = {}
        self._private: dict[str, Ed25519PrivateKey] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        from services.gateway.tokens import repository

        async with self.sessions() as session:
            rows = await repository.published_keys(session, clock.now())
        records = {
            r.kid: KeyRecord(r.kid, dict(r.public_jwk), r.origin, r.activated_at, r.retired_at, r.published_until, r.private_key_cipher)
            for r in rows
        }
        self._verifying = {kid: self._verifying.get(kid) or PyJWK(rec.public_jwk, ALGORITHM) for kid, rec in records.items()}
        self._private = {kid: k for kid, k in self._private.items() if kid in records}
        self._records = records
        self._loaded_at = time.monotonic()

    async def _refresh(self, *, unknown: bool = False) -> None:
        async with self._lock:
            age = time.monotonic() - self._loaded_at
            if age < (min(self.min_refresh, self.refresh_seconds) if unknown else self.refresh_seconds):
                return  # another task has just read them
            try:
                await self.load()
            except Exception as exc:  # the database may be failing over; keep signing with what we have
                log.warning("could not read the signing keys", extra={"error": repr(exc)})
                self._loaded_at = time.monotonic() - self.refresh_seconds + self.min_refresh

    async def _current(self) -> dict[str, KeyRecord]:
        if time.monotonic() - self._loaded_at > self.refresh_seconds:
            await self._refresh()
        return self._records

    async def key(self, kid: str) -> PyJWK | None:
        records = await self._current()
        if kid not in records:
            await self._refresh(unknown=True)
            records = self._records
        record = records.get(kid)
        if record is None or not record.published_at(clock.now()):
            return None
        return self._verifying.get(kid)

    async def signer(self) -> tuple[str, Ed25519PrivateKey]:
        records = await self._current()
        record = signer_of(records.values(), clock.now())
        if record is None:
            raise NoSigningKey("no signing key is active; run `sprout keys rotate`")
        private = self._private.get(record.kid)
        if private is None:
            private = unseal(self.cipher, record.kid, record.private_cipher)
            self._private[record.kid] = private
        return record.kid, private

    async def jwks(self) -> dict[str, Any]:
        records = await self._current()
        now = clock.now()
        published = sorted((r for r in records.values() if r.published_at(now)), key=lambda r: r.activated_at, reverse=True)
        return {"keys": [r.public_jwk for r in published]}

    def records(self) -> list[KeyRecord]:
        return list(self._records.values())
