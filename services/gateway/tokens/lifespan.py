"""The tokens domain's part of the gateway's lifespan: the key store, the local verifier, housekeeping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from services.gateway.tokens import service
from services.gateway.tokens.keys import KeyStore, NoSigningKey
from shared.crypto import cipher_for
from shared.problems import ProblemError
from shared.tokens import TokenVerifier

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 600.0
RETRY_SECONDS = 2.0
# Long enough for a healthy database, short enough that a blackholed one does not hold the
# process's start (liveness must not depend on the database).
CHECK_TIMEOUT = 5.0
_UNREACHABLE = (OSError, DBAPIError, TimeoutError)


@asynccontextmanager
async def tokens_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Checks (or, off production, makes) the signing key, then verifies tokens with the local
    keys: the gateway never fetches its own JWKS over HTTP.

    A gateway that may not sign (production without an operator's key) refuses to start.
    One that cannot reach the database yet starts anyway, reports not ready under
    `signing_key`, and checks again every few seconds until it can.
    """
    settings = app.state.settings
    keys = KeyStore(app.state.sessionmaker, cipher_for(settings), refresh_seconds=settings.signing_key_cache_seconds)
    app.state.keystore = keys
    app.state.token_issuer = service.Issuer(settings, keys)
    app.state.token_verifier = TokenVerifier(
        keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience, revocations=app.state.revocations
    )

    tasks = [asyncio.create_task(_housekeeping(app))]
    if not await _check(app):
        app.state.signing_key_problem = "the signing keys have not been checked yet (database unreachable)"
        app.state.readiness_checks["signing_key"] = _signing_key_ready
        tasks.append(asyncio.create_task(_check_until_done(app)))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _check(app: FastAPI) -> bool:
    """True once the key is checked and loaded; False while the database cannot be reached."""
    settings = app.state.settings
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            async with app.state.sessionmaker() as session, session.begin():
                await service.startup_signing_key(session, app.state.keystore.cipher, settings)
            await app.state.keystore.load()
    except _UNREACHABLE as exc:
        log.warning("could not check the signing keys; will try again", extra={"error": repr(exc)})
        return False
    return True


async def _check_until_done(app: FastAPI) -> None:
    while True:
        await asyncio.sleep(RETRY_SECONDS)
        try:
            if await _check(app):
                app.state.readiness_checks.pop("signing_key", None)
                log.info("signing keys checked")
                return
        except NoSigningKey as exc:
            # Too late to refuse to start: stay not ready, saying why, until an operator acts.
            app.state.signing_key_problem = str(exc)
            log.error("no usable signing key", extra={"error": str(exc)})


async def _signing_key_ready(app: FastAPI) -> str:
    raise ProblemError("not_ready", reason=app.state.signing_key_problem)


async def _housekeeping(app: FastAPI) -> None:
    while True:
        await asyncio.sleep(HOUSEKEEPING_SECONDS)
        try:
            async with app.state.sessionmaker() as session, session.begin():
                done = await service.housekeeping(session, app.state.settings)
            log.info("token housekeeping", extra=done)
        except Exception as exc:
            log.warning("token housekeeping failed", extra={"error": repr(exc)})
