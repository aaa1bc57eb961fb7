"""Field encryption for personal data at rest (AES-256-GCM with a rotatable key ring) and blind indexes.

Any service that stores personal data seals it here, with the keys of `SPROUT_PII_KEYS` and
`SPROUT_PII_INDEX_KEY` (shared/settings.py); its settings class says it holds personal data
(`holds_personal_data = True`), so production refuses to start it on the development keys.

A ciphertext names the key that sealed it, so keys rotate without a flag day: new writes use
the newest key of `SPROUT_PII_KEYS`, older ciphertexts still open with the key they name, and
`reencrypt` (run by `sprout pii rotate`) moves them to the newest key, after which the old key
can be dropped from the ring. Equality lookups on encrypted values (is this ID number already
registered? which guardian has this phone?) go through a blind index: an HMAC under a separate
key, which reveals equality and nothing else.

Format of a ciphertext: b"\\x01" | len(kid) (1 byte) | kid (ASCII) | nonce (12 bytes) | AES-GCM
output (ciphertext + 16-byte tag). The version byte and the kid are authenticated as
associated data together with the caller's `aad`, so neither can be swapped undetected.

Callers bind a ciphertext to where it lives with `aad(table, column, row_id)`
(b"user_account.id_number:<id>"), so a ciphertext copied into another row or column does not
decrypt:

    blob = cipher.encrypt_text(phone, aad=aad("guardian_contact", "phone", contact.id))
    index = cipher.blind_index(phone, purpose="phone")  # WHERE phone_index = :index finds it
    phone = cipher.decrypt_text(blob, aad=aad("guardian_contact", "phone", contact.id))
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from fastapi import FastAPI

    from shared.settings import BaseServiceSettings

VERSION = 1
NONCE_BYTES = 12
_KID = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")

# The development key ring is derived from a constant, so every process of a development
# system (every service, its replicas, `sprout user create`) agrees on it without sharing a
# file. It protects nothing; SPROUT_ENV=production refuses to start with it.
DEV_KID = "dev"
_DEV_SEED = b"sprout development-only personal data key; never use in production"


class KeyRingError(ValueError):
    """The configured keys cannot be used (bad format, bad length, duplicate key id)."""


class DecryptionError(Exception):
    """A ciphertext that does not open: unknown key id, wrong key, tampered bytes or wrong `aad`."""


@dataclass(frozen=True)
class FieldCipher:
    """A key ring (newest first) and a blind-index key."""

    keys: tuple[tuple[str, bytes], ...]
    index_key: bytes

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyRingError("the key ring is empty")
        seen = set()
        for kid, key in self.keys:
            if not _KID.match(kid):
                raise KeyRingError(f"key id {kid!r}: use 1-32 letters, digits, '_', '-' or '.'")
            if kid in seen:
                raise KeyRingError(f"key id {kid!r} appears twice")
            if len(key) != 32:
                raise KeyRingError(f"key {kid!r} must be 32 bytes (AES-256), not {len(key)}")
            seen.add(kid)
        if len(self.index_key) < 32:
            raise KeyRingError("the blind-index key must be at least 32 bytes")
        object.__setattr__(self, "_aead", {kid: AESGCM(key) for kid, key in self.keys})

    def __reduce__(self) -> tuple:
        # The AES objects do not pickle; the keys do. An import's worker process gets the
        # cipher this way, over the pipe to a child of this process.
        return (FieldCipher, (self.keys, self.index_key))

    @property
    def current_kid(self) -> str:
        return self.keys[0][0]

    def encrypt(self, plaintext: bytes, *, aad: bytes = b"") -> bytes:
        kid = self.current_kid
        header = bytes([VERSION, len(kid)]) + kid.encode("ascii")
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[kid].encrypt(nonce, plaintext, header + aad)  # type: ignore[attr-defined]
        return header + nonce + sealed

    def decrypt(self, blob: bytes, *, aad: bytes = b"") -> bytes:
        kid, header, body = _split(blob)
        aead = self._aead.get(kid)  # type: ignore[attr-defined]
        if aead is None:
            raise DecryptionError(f"no key {kid!r} in the key ring")
        try:
            return aead.decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], header + aad)
        except InvalidTag:
            raise DecryptionError("the ciphertext does not open with its key (tampered, or wrong aad)") from None

    def encrypt_text(self, value: str | None, *, aad: bytes = b"") -> bytes | None:
        return None if value is None else self.encrypt(value.encode("utf-8"), aad=aad)

    def decrypt_text(self, blob: bytes | None, *, aad: bytes = b"") -> str | None:
        return None if blob is None else self.decrypt(blob, aad=aad).decode("utf-8")

    def needs_rotation(self, blob: bytes) -> bool:
        """True when `blob` is sealed with a key other than the newest."""
        return key_id(blob) != self.current_kid

    def rotate(self, blob: bytes | None, *, aad: bytes = b"") -> bytes | None:
        """`blob` re-sealed with the newest key, or None when it already is (or is None)."""
        if blob is None or not self.needs_rotation(blob):
            return None
        return self.encrypt(self.decrypt(blob, aad=aad), aad=aad)

    def blind_index(self, value: str, *, purpose: str = "id_number") -> str:
        """A stable keyed digest of `value` for equality lookups; `purpose` separates the domains,
        so an ID number and a phone with the same digits get different indexes."""
        normalised = normalise_for_index(value)
        mac = hmac.new(self.index_key, purpose.encode() + b"\x00" + normalised.encode("utf-8"), hashlib.sha256)
        return mac.hexdigest()


def aad(table: str, column: str, row_id: object) -> bytes:
    """What binds a ciphertext to its row and column: copied elsewhere, it does not decrypt."""
    return f"{table}.{column}:{row_id}".encode()


def normalise_for_index(value: str) -> str:
    # Spaces and case are how people write the same ID number differently ("...123x" vs "...123X").
    return unicodedata.normalize("NFKC", value).strip().replace(" ", "").upper()


def key_id(blob: bytes) -> str:
    """The id of the key that sealed `blob`."""
    return _split(blob)[0]


def _split(blob: bytes) -> tuple[str, bytes, bytes]:
    blob = bytes(blob)
    if len(blob) < 2 or blob[0] != VERSION:
        raise DecryptionError("not a Sprout field ciphertext")
    n = blob[1]
    header = blob[: 2 + n]
    body = blob[2 + n :]
    if len(header) != 2 + n or len(body) < NONCE_BYTES + 16:
        raise DecryptionError("truncated ciphertext")
    try:
        kid = header[2:].decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError("unreadable key id") from None
    return kid, header, body


# ---------------------------------------------------------------- from settings


def _b64(text: str, what: str) -> bytes:
    # Standard or URL-safe alphabet, padded or not: whatever `openssl rand -base64 32` or a
    # secrets manager produced.
    text = text.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise KeyRingError(f"{what} is not base64") from None


def parse_key_ring(spec: str) -> tuple[tuple[str, bytes], ...]:
    """`kid1:base64key,kid2:base64key` (newest first) as (kid, key) pairs."""
    ring = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        kid, sep, key = part.partition(":")
        if not sep:
            raise KeyRingError("write each key as <key id>:<base64 of 32 bytes>")
        ring.append((kid.strip(), _b64(key, f"key {kid.strip()!r}")))
    if not ring:
        raise KeyRingError("SPROUT_PII_KEYS names no key")
    return tuple(ring)


def development_cipher() -> FieldCipher:
    key = hashlib.sha256(_DEV_SEED + b"/aes").digest()
    index = hashlib.sha256(_DEV_SEED + b"/index").digest()
    return FieldCipher(keys=((DEV_KID, key),), index_key=index)


@lru_cache(maxsize=16)
def _cipher(keys_spec: str | None, index_spec: str | None) -> FieldCipher:
    dev = development_cipher()
    keys = parse_key_ring(keys_spec) if keys_spec else dev.keys
    index = _b64(index_spec, "SPROUT_PII_INDEX_KEY") if index_spec else dev.index_key
    return FieldCipher(keys=keys, index_key=index)


def cipher_for(settings: BaseServiceSettings) -> FieldCipher:
    """The cipher of these settings (cached: the same settings give the same object)."""
    keys = settings.pii_keys.get_secret_value() if settings.pii_keys else None
    index = settings.pii_index_key.get_secret_value() if settings.pii_index_key else None
    return _cipher(keys, index)


def generate_key() -> str:
    """A new random key, base64, for SPROUT_PII_KEYS or SPROUT_PII_INDEX_KEY."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


# ---------------------------------------------------------------- the process's cipher

_current: FieldCipher | None = None


def install(cipher: FieldCipher | None) -> FieldCipher | None:
    """Make `cipher` the process's cipher (`lifespan` does, for an app); returns the previous one."""
    global _current
    previous, _current = _current, cipher
    return previous


def current() -> FieldCipher:
    """The installed cipher, or the one of the environment's settings."""
    global _current
    if _current is None:
        from shared.settings import BaseServiceSettings

        _current = cipher_for(BaseServiceSettings())
    return _current


def encrypt(plaintext: bytes, *, aad: bytes = b"") -> bytes:
    return current().encrypt(plaintext, aad=aad)


def decrypt(blob: bytes, *, aad: bytes = b"") -> bytes:
    return current().decrypt(blob, aad=aad)


def blind_index(value: str, *, purpose: str = "id_number") -> str:
    return current().blind_index(value, purpose=purpose)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Install the app's cipher for the process (a bad key configuration stops the start here)."""
    previous = install(cipher_for(app.state.settings))
    try:
        yield
    finally:
        install(previous)
