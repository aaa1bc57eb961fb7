"""Random credentials the gateway hands out once and keeps only as digests: client secrets and refresh tokens.

Both are 256 random bits (a refresh token replacing another: pseudorandom, see `successor`),
so a fast SHA-256 digest is as safe to store as a slow password hash would be (nothing to
guess), and checking one costs microseconds rather than the tens of milliseconds and
megabytes of an Argon2 verification on every client-credentials grant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

_PREFIX = "sha256$"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def successor(key: bytes, token: str, successor_id: uuid.UUID) -> str:
    """The refresh token that replaces `token` as row `successor_id`: an HMAC under the gateway's
    key, as unpredictable as a random one to anyone without that key, and computable again
    from `token`, so a rotation can be repeated without keeping the new token anywhere. The
    row id (random, never shown) makes even key and token together useless without the row."""
    mac = hmac.new(key, b"sprout refresh token successor\x00" + successor_id.bytes + token.encode("utf-8"), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_hash(secret: str) -> str:
    return _PREFIX + digest(secret)


def secret_matches(secret: str | None, stored: str | None) -> bool:
    # A missing client or secret still computes and compares a digest, so timing does not
    # tell a known client id from an unknown one.
    expected = stored[len(_PREFIX):] if stored and stored.startswith(_PREFIX) else "0" * 64
    ok = hmac.compare_digest(digest(secret or ""), expected)
    return ok and stored is not None and secret is not None
