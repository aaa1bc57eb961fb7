"""Forged, stolen and stale tokens get 401 everywhere: at the gateway, through it, and at a service called directly."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.tokens.support import (
    World,
    alg_none_token,
    b64url_json,
    bearer,
    claims,
    ed25519_token,
    hs256_token,
    public_key_forms,
    with_payload,
    world,
)


@pytest.fixture(scope="module")
async def w(database_url: str) -> AsyncIterator[World]:
    async with world(database_url) as the_world:
        yield the_world


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def _genuine(w: World, **overrides) -> str:
    fields = {"subject": str(uuid.uuid4()), "kind": "user", "roles": ["student"], "name": "Chen Xiaoming"}
    fields.update(overrides)
    return await w.mint(**fields)


async def _signing(w: World) -> tuple[str, Ed25519PrivateKey, dict]:
    kid, key = await w.gateway_app.state.keystore.signer()
    jwk = next(k for k in (await w.gateway_app.state.keystore.jwks())["keys"] if k["kid"] == kid)
    return kid, key, jwk


Forge = Callable[[World, str, Ed25519PrivateKey, dict, str], str]

ATTACKS: dict[str, Forge] = {
    "alg none": lambda w, kid, key, jwk, good: alg_none_token(kid, claims(w.gateway_app.state.settings)),
    **{
        f"HS256 signed with the public key ({form})": (
            lambda w, kid, key, jwk, good, form=form: hs256_token(public_key_forms(jwk)[form], kid, claims(w.gateway_app.state.settings))
        )
        for form in ("pem", "raw", "x", "jwk")
    },
    "signed with another key under the real kid": lambda w, kid, key, jwk, good: ed25519_token(
        Ed25519PrivateKey.generate(), kid, claims(w.gateway_app.state.settings)
    ),
    "signed with another key under a made-up kid": lambda w, kid, key, jwk, good: ed25519_token(
        Ed25519PrivateKey.generate(), "made-up-kid", claims(w.gateway_app.state.settings)
    ),
    "expired": lambda w, kid, key, jwk, good: ed25519_token(
        key, kid, claims(w.gateway_app.state.settings, iat=int(time.time()) - 1000, nbf=int(time.time()) - 1000, exp=int(time.time()) - 100)
    ),
    "wrong audience": lambda w, kid, key, jwk, good: ed25519_token(key, kid, claims(w.gateway_app.state.settings, aud="another-api")),
    "wrong issuer": lambda w, kid, key, jwk, good: ed25519_token(key, kid, claims(w.gateway_app.state.settings, iss="https://evil.example")),
    "no expiry": lambda w, kid, key, jwk, good: ed25519_token(key, kid, claims(w.gateway_app.state.settings, exp=None)),
    "not an access token": lambda w, kid, key, jwk, good: ed25519_token(key, kid, claims(w.gateway_app.state.settings, typ="refresh")),
    "tampered role claim": lambda w, kid, key, jwk, good: with_payload(good, roles=["admin"]),
    "tampered subject": lambda w, kid, key, jwk, good: with_payload(good, sub=str(uuid.uuid4())),
    "no key id": lambda w, kid, key, jwk, good: good.replace(good.split(".")[0], b64url_json({"alg": "EdDSA", "typ": "JWT"}), 1),
    "not a JWT": lambda w, kid, key, jwk, good: "definitely-not-a-jwt",
    "signature cut off": lambda w, kid, key, jwk, good: good.rsplit(".", 1)[0] + ".",
}


def _target(w: World, where: str) -> str:
    return {
        "the gateway's /auth/me": f"{w.gateway_url}/auth/me",
        "courses through the gateway": f"{w.gateway_url}/api/courses/whoami",
        "courses called directly": f"{w.courses_url}/whoami",
    }[where]


WHERE = ("the gateway's /auth/me", "courses through the gateway", "courses called directly")


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_a_forged_or_stale_token_gets_401(w, http, attack, where):
    kid, key, jwk = await _signing(w)
    good = await _genuine(w)
    forged = ATTACKS[attack](w, kid, key, jwk, good)

    r = await http.get(_target(w, where), headers=bearer(forged))

    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == ("token_expired" if attack == "expired" else "invalid_token")
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


@pytest.mark.parametrize("where", WHERE[1:])
async def test_a_genuine_token_is_accepted_by_the_service_directly_and_through_the_gateway(w, http, where):
    token = await _genuine(w, roles=["coordinator"], name="Huang Li", extra={"school_id": "3f8a8a5e-0000-4000-8000-000000000001"})
    r = await http.get(_target(w, where), headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.json()["roles"] == ["coordinator"] and r.json()["school_id"] == "3f8a8a5e-0000-4000-8000-000000000001"


@pytest.mark.parametrize("where", WHERE)
async def test_no_token_gets_401(w, http, where):
    r = await http.get(_target(w, where))
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"


async def test_a_tampered_admin_claim_does_not_reach_an_admin_route(w, http):
    good = await _genuine(w, roles=["student"])
    r = await http.get(f"{w.gateway_url}/auth/clients", headers=bearer(with_payload(good, roles=["admin"])))
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"
    r = await http.get(f"{w.gateway_url}/auth/clients", headers=bearer(good))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
