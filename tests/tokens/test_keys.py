"""Signing keys: published as JWKS, sealed at rest, rotated without downtime, and provisioned by an operator in production."""

from __future__ import annotations

import asyncio
import base64
import os
from datetime import timedelta

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from services.gateway.settings import GatewaySettings
from services.gateway.tokens import service
from services.gateway.tokens.keys import GENERATED, OPERATOR, NoSigningKey, private_key_aad, thumbprint, unseal
from services.gateway.tokens.models import SigningKey
from shared import clock
from shared.clock import FrozenClock, use_clock
from shared.crypto import FieldCipher, cipher_for, development_cipher, generate_key as generate_pii_key, key_id
from shared.db import sessionmaker
from tests.tokens.support import bearer, gateway_settings, unverified_parts, world


def _kid(token: str) -> str:
    return unverified_parts(token)[0]["kid"]


async def _rotate(engine, settings: GatewaySettings, *, delay: float):
    async with sessionmaker(engine)() as session, session.begin():
        return await service.rotate_signing_key(session, cipher_for(settings), settings, delay=delay)


async def test_the_jwks_publishes_public_keys_only_and_may_be_cached_briefly(gateway):
    r = await gateway.client.get("/.well-known/jwks.json")

    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=60"
    keys = r.json()["keys"]
    assert keys
    for k in keys:
        assert set(k) == {"kty", "crv", "x", "kid", "alg", "use"}  # no "d": nothing private
        assert (k["kty"], k["crv"], k["alg"], k["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
        assert k["kid"] == thumbprint(k)
    signer_kid, _ = await gateway.app.state.keystore.signer()
    assert signer_kid in {k["kid"] for k in keys}


async def test_a_private_key_is_stored_sealed_and_bound_to_its_row(gateway, session):
    kid, private = await gateway.app.state.keystore.signer()
    from cryptography.hazmat.primitives import serialization

    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    sealed = await session.scalar(select(SigningKey.private_key_cipher).where(SigningKey.kid == kid))

    assert raw not in sealed and base64.b64encode(raw) not in sealed
    assert key_id(sealed) == development_cipher().current_kid
    cipher = cipher_for(gateway.app.state.settings)
    assert unseal(cipher, kid, sealed).public_key().public_bytes_raw() == private.public_key().public_bytes_raw()
    with pytest.raises(Exception):
        cipher.decrypt(sealed, aad=private_key_aad("another-kid"))


async def test_rotation_keeps_old_tokens_valid_until_they_expire_and_services_pick_up_the_new_key(database_url, engine):
    # The services' guard against floods of made-up key ids allows one JWKS fetch per 10 s
    # (SPROUT_JWKS_MIN_REFRESH_SECONDS); shortened here so the test need not wait for it.
    async with world(
        database_url, signing_key_cache_seconds=0.2, courses_overrides={"jwks_min_refresh_seconds": 0.1}
    ) as w, httpx.AsyncClient(timeout=10) as http:
        assert w.courses_app.state.token_verifier.keys.min_refresh == 0.1
        mint = lambda: w.mint(subject="u-1", kind="user", roles=["admin"], name="Admin")  # noqa: E731
        before, before_unseen, before_late = await mint(), await mint(), await mint()
        old_kid = _kid(before)
        assert (await http.get(f"{w.courses_url}/whoami", headers=bearer(before))).status_code == 200  # courses caches the JWKS

        new, retired = await _rotate(engine, w.gateway_app.state.settings, delay=0)
        await asyncio.sleep(0.3)  # the gateway's key cache lapses (signing_key_cache_seconds)
        after = await mint()

        assert _kid(after) == new.kid != old_kid
        published = {k["kid"] for k in (await http.get(f"{w.gateway_url}/.well-known/jwks.json")).json()["keys"]}
        assert {old_kid, new.kid} <= published
        # The service has never seen the new kid: it fetches the JWKS again and accepts the token.
        assert (await http.get(f"{w.courses_url}/whoami", headers=bearer(after))).status_code == 200
        # Tokens of the retired key still verify everywhere until they expire.
        for url in (f"{w.courses_url}/whoami", f"{w.gateway_url}/api/courses/whoami", f"{w.gateway_url}/auth/clients"):
            assert (await http.get(url, headers=bearer(before_unseen))).status_code == 200, url
        old = next(r for r in retired if r.kid == old_kid)
        assert old.published_until >= old.retired_at + timedelta(seconds=900)

        # Once its last token must have expired, the retired key is no longer published or trusted.
        with use_clock(FrozenClock(old.published_until + timedelta(seconds=1))):
            await asyncio.sleep(0.3)
            published = {k["kid"] for k in (await http.get(f"{w.gateway_url}/.well-known/jwks.json")).json()["keys"]}
            assert old_kid not in published and new.kid in published
            r = await http.get(f"{w.gateway_url}/auth/clients", headers=bearer(before_late))
            assert r.status_code == 401 and r.json()["code"] == "invalid_token"


async def test_a_rotated_key_is_published_before_it_signs_and_every_replica_switches_on_time(database_url, engine):
    async with world(database_url, signing_key_cache_seconds=0.2) as w, httpx.AsyncClient(timeout=10) as http:
        mint = lambda: w.mint(subject="u-2", kind="user", roles=["staff"])  # noqa: E731
        current = _kid(await mint())

        new, _ = await _rotate(engine, w.gateway_app.state.settings, delay=120)
        await asyncio.sleep(0.3)

        published = {k["kid"] for k in (await http.get(f"{w.gateway_url}/.well-known/jwks.json")).json()["keys"]}
        assert new.kid in published
        assert _kid(await mint()) == current
        # No replica needs to read the table again: each already knows when the new key starts.
        w.gateway_app.state.keystore.refresh_seconds = 3600
        with use_clock(FrozenClock(clock.now() + timedelta(seconds=121))):
            assert _kid(await mint()) == new.kid


async def _retire_every_key(session) -> None:
    # Inside the test's transaction, rolled back afterwards.
    await session.execute(
        update(SigningKey).values(retired_at=SigningKey.activated_at, published_until=SigningKey.activated_at)
    )


async def test_a_retired_key_loses_its_private_half_once_it_no_longer_signs(session, database_url):
    settings = gateway_settings(database_url)
    await service.ensure_signing_key(session, cipher_for(settings), settings, origin=GENERATED)
    new, retired = await service.rotate_signing_key(session, cipher_for(settings), settings, delay=0)
    assert retired
    # (A key of an earlier test may have been waiting to start signing: superseded first, it
    # retires at its own start, still ahead.)
    ended = [r for r in retired if r.retired_at <= clock.now()]
    assert ended
    done = await service.housekeeping(session, settings)
    assert done["private_keys_wiped"] >= len(ended)
    rows = {k.kid: k for k in await service.list_signing_keys(session)}
    assert all(rows[r.kid].private_cipher is None for r in ended)
    assert rows[new.kid].private_cipher is not None
    # Still published (verifying needs the public half only).
    assert all(rows[r.kid].published_at(clock.now()) for r in retired)


def _production(**overrides) -> GatewaySettings:
    return GatewaySettings(
        env="production", database_url="postgresql://sprout@db/sprout",
        pii_keys=f"k1:{generate_pii_key()}", pii_index_key=generate_pii_key(), **overrides,
    )


def test_production_refuses_to_let_the_gateway_make_its_own_key():
    assert _production().autogenerate_signing_key is False
    with pytest.raises(ValidationError, match="SPROUT_SIGNING_KEY_AUTOGENERATE"):
        _production(signing_key_autogenerate=True)
    dev = GatewaySettings(env="development")
    assert dev.autogenerate_signing_key is True
    assert not any("SIGNING_KEY" in s for s in dev.development_defaults_in_use())


async def test_a_gateway_that_may_not_make_a_key_refuses_to_start_without_one(session):
    await _retire_every_key(session)
    settings = _production()
    with pytest.raises(NoSigningKey, match="sprout keys ensure"):
        await service.startup_signing_key(session, cipher_for(settings), settings)


async def test_off_production_a_gateway_makes_its_key_and_production_refuses_to_sign_with_it(session, database_url):
    await _retire_every_key(session)
    dev = gateway_settings(database_url)
    made = await service.startup_signing_key(session, cipher_for(dev), dev)
    assert made.origin == GENERATED

    prod = _production()
    prod_cipher = cipher_for(prod)
    with pytest.raises(NoSigningKey, match="generated"):
        await service.startup_signing_key(session, prod_cipher, prod)

    provisioned, was_made = await service.ensure_signing_key(session, prod_cipher, prod, origin=OPERATOR)
    assert was_made and provisioned.origin == OPERATOR
    assert (await service.startup_signing_key(session, prod_cipher, prod)).kid == provisioned.kid
    # The generated key retired now but stays published until its tokens have expired.
    generated = next(k for k in await service.list_signing_keys(session) if k.kid == made.kid)
    assert generated.retired_at is not None and generated.published_until > clock.now() + timedelta(seconds=900)
    # Running it again (every deployment does) changes nothing.
    again, was_made = await service.ensure_signing_key(session, prod_cipher, prod, origin=OPERATOR)
    assert not was_made and again.kid == provisioned.kid


async def test_signing_keys_move_to_the_newest_personal_data_key(session, database_url):
    settings = gateway_settings(database_url)
    old_ring = cipher_for(settings)
    new_ring = FieldCipher(keys=(("k2", os.urandom(32)), *old_ring.keys), index_key=old_ring.index_key)
    only_new = FieldCipher(keys=(new_ring.keys[0],), index_key=old_ring.index_key)
    kid, _ = await service.ensure_signing_key(session, old_ring, settings, origin=GENERATED)

    assert await service.reseal_signing_keys(session, new_ring) >= 1

    sealed = await session.scalar(select(SigningKey.private_key_cipher).where(SigningKey.kid == kid.kid))
    assert key_id(sealed) == "k2"
    unseal(only_new, kid.kid, sealed)


async def test_operators_ensure_rotate_and_list_keys_from_the_command_line(database_url, monkeypatch, capsys):
    from services.cli import main

    monkeypatch.setenv("SPROUT_DATABASE_URL", database_url)
    monkeypatch.setenv("SPROUT_ENV", "test")
    # `sprout` runs its own event loop, so here it runs in a thread of its own.
    sprout = lambda *args: asyncio.to_thread(main, list(args))  # noqa: E731

    assert await sprout("keys", "ensure") == 0
    assert "operator" in capsys.readouterr().out

    assert await sprout("keys", "rotate", "--delay", "30") == 0
    new_kid = capsys.readouterr().out.split()[3].rstrip(":")

    assert await sprout("keys", "list") == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith(new_kid))
    assert "pending" in line and "operator" in line


def test_how_often_a_service_may_fetch_the_jwks_for_an_unknown_key_is_a_setting(monkeypatch):
    from shared.settings import BaseServiceSettings

    monkeypatch.delenv("SPROUT_JWKS_MIN_REFRESH_SECONDS", raising=False)
    assert BaseServiceSettings(env="test").jwks_min_refresh_seconds == 10
    monkeypatch.setenv("SPROUT_JWKS_MIN_REFRESH_SECONDS", "2.5")
    assert BaseServiceSettings(env="test").jwks_min_refresh_seconds == 2.5
    monkeypatch.setenv("SPROUT_JWKS_MIN_REFRESH_SECONDS", "0")
    with pytest.raises(ValidationError):
        BaseServiceSettings(env="test")
