"""What the token and limit tests share: gateway settings, people and clients in the real database,
hand-forged tokens for the attacks, and a real uvicorn server on a free port."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.gateway.identity.models import GuardianLink, Partner, School, SchoolLevel, UserAccount
from services.gateway.identity.passwords import hash_password
from services.gateway.settings import GatewaySettings
from services.gateway.tokens import credentials
from services.gateway.tokens.models import Client
from shared.db import sessionmaker
from tests.servers import bound_socket, serve

PASSWORD = "correct horse battery staple"


def gateway_settings(database_url: str, **overrides: Any) -> GatewaySettings:
    return GatewaySettings(database_url=database_url, env="test", events_enabled=False, **overrides)


@lru_cache(maxsize=4)
def password_hash(password: str = PASSWORD) -> str:
    # Argon2 is slow on purpose: hash each test password once per run.
    return hash_password(password)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


async def make_school(session: AsyncSession, name: str | None = None) -> School:
    school = School(id=uuid.uuid4(), name=name or unique("No. 5 Middle School"), district="Licheng", level=SchoolLevel.middle)
    session.add(school)
    await session.flush()
    return school


async def make_user(
    session: AsyncSession,
    *roles: str,
    username: str | None = None,
    password: str | None = PASSWORD,
    display_name: str = "Lin Wei",
    school: School | None = None,
    grade: int | None = None,
    disabled: bool = False,
    password_hash_value: str | None = None,
    partner: Partner | None = None,
) -> UserAccount:
    roles = roles or ("staff",)
    if ("student" in roles or "coordinator" in roles) and school is None:
        school = await make_school(session)
    if "partner" in roles and partner is None:
        partner = await make_partner(session)
    if "student" in roles and grade is None:
        grade = 7
    user = UserAccount(
        id=uuid.uuid4(),
        username=username or unique("user"),
        display_name=display_name,
        password_hash=password_hash_value or (password_hash(password) if password is not None else None),
        roles=list(roles),
        school_id=school.id if school else None,
        partner_id=partner.id if partner else None,
        grade=grade,
        disabled=disabled,
    )
    session.add(user)
    await session.flush()
    return user


async def link(session: AsyncSession, guardian: UserAccount, student: UserAccount, relation: str = "mother") -> None:
    session.add(GuardianLink(guardian_id=guardian.id, student_id=student.id, relation=relation))
    await session.flush()


async def make_partner(session: AsyncSession, name: str | None = None) -> Partner:
    partner = Partner(id=uuid.uuid4(), name=name or unique("Xiamen University"))
    session.add(partner)
    await session.flush()
    return partner


async def make_client(
    session: AsyncSession, *, role: str = "service", scopes: tuple[str, ...] = (), partner: Partner | None = None,
    disabled: bool = False, client_id: str | None = None,
) -> tuple[Client, str]:
    secret = credentials.new_secret()
    if role == "partner" and partner is None:
        partner = await make_partner(session)
    client = Client(
        id=uuid.uuid4(), client_id=client_id or unique("client"), secret_hash=credentials.secret_hash(secret),
        name="A machine client", roles=[role], scopes=list(scopes), partner_id=partner.id if partner else None,
        disabled=disabled,
    )
    session.add(client)
    await session.flush()
    return client, secret


@asynccontextmanager
async def committed(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose writes commit when the block ends: for a gateway served over HTTP,
    which reads and writes with real commits, outside any test's transaction."""
    async with sessionmaker(engine)() as session, session.begin():
        yield session


# ---------------------------------------------------------------- talking OAuth


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD, **extra: str) -> httpx.Response:
    return await client.post("/auth/token", data={"grant_type": "password", "username": username, "password": password, **extra})


async def tokens_for(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    r = await login(client, username, password)
    assert r.status_code == 200, r.text
    return r.json()


async def signed_in(app: Any, session: AsyncSession, user: UserAccount) -> dict[str, Any]:
    """Tokens for `user` from the gateway's own issuer, as a sign-in gives them, without paying
    for an Argon2 verification (about 0.08 s here) in every test that is not about passwords."""
    from services.gateway.tokens.service import sign_in

    issued = await sign_in(session, app.state.token_issuer, user)
    return {"access_token": issued.access_token, "refresh_token": issued.refresh_token, "expires_in": issued.expires_in}


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- forging tokens


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_json(obj: dict[str, Any]) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
        signature,
    )


def claims(settings: GatewaySettings, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": settings.jwt_issuer, "aud": settings.jwt_audience, "sub": str(uuid.uuid4()), "iat": now, "nbf": now,
        "exp": now + 300, "jti": uuid.uuid4().hex, "typ": "access", "kind": "user", "roles": ["admin"], "scope": "",
        "name": "Mallory",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def ed25519_token(key: Ed25519PrivateKey, kid: str, payload: dict[str, Any], *, alg: str = "EdDSA") -> str:
    signing_input = f"{b64url_json({'alg': alg, 'typ': 'JWT', 'kid': kid})}.{b64url_json(payload)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"


def alg_none_token(kid: str, payload: dict[str, Any]) -> str:
    return f"{b64url_json({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64url_json(payload)}."


def hs256_token(secret: bytes, kid: str, payload: dict[str, Any]) -> str:
    """HS256 signed with `secret`, as an attacker does with the server's public key (PyJWT refuses to)."""
    signing_input = f"{b64url_json({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{b64url_json(payload)}"
    return f"{signing_input}.{b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def public_key_forms(jwk: dict[str, Any]) -> dict[str, bytes]:
    """Every form of the public key an attacker might use as an HMAC secret."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    public = Ed25519PublicKey.from_public_bytes(raw)
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"pem": pem, "raw": raw, "x": jwk["x"].encode(), "jwk": json.dumps(jwk).encode()}


def with_payload(token: str, **changes: Any) -> str:
    """The same header and signature over a changed payload: a tampered token."""
    header, payload, signature = token.split(".")
    _, claims_, _ = unverified_parts(token)
    claims_.update(changes)
    return f"{header}.{b64url_json(claims_)}.{signature}"


class World:
    """A real gateway and a real courses service, each served over HTTP on its own free port;
    courses verifies tokens against the gateway's JWKS, and the gateway proxies /api/courses/ to it."""

    def __init__(self, gateway_app: Any, gateway_url: str, courses_app: Any, courses_url: str) -> None:
        self.gateway_app = gateway_app
        self.gateway_url = gateway_url
        self.courses_app = courses_app
        self.courses_url = courses_url

    async def mint(self, **claims_: Any) -> str:
        """A genuine access token from the gateway's own issuer."""
        token, _ = await self.gateway_app.state.token_issuer.access_token(**claims_)
        return token


@asynccontextmanager
async def world(
    database_url: str, *, courses_overrides: dict[str, Any] | None = None, **gateway_overrides: Any
) -> AsyncIterator[World]:
    from services.courses.app import create_app as courses_app
    from services.courses.settings import CoursesSettings
    from services.gateway.app import create_app as gateway_app

    gateway_sock, gateway_url = bound_socket()
    courses_sock, courses_url = bound_socket()
    gateway = gateway_app(gateway_settings(database_url, courses_url=courses_url, **gateway_overrides))
    courses = courses_app(
        CoursesSettings(
            database_url=database_url, env="test", events_enabled=False, gateway_url=gateway_url,
            **(courses_overrides or {}),
        )
    )
    # The gateway stops first, closing its pooled connections to courses, so courses need not
    # wait out its graceful-shutdown timeout for them.
    async with serve(courses, courses_sock), serve(gateway, gateway_sock):
        yield World(gateway, gateway_url, courses, courses_url)
