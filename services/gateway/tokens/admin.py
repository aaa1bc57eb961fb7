"""What `sprout keys ...` and `sprout client create` run: one short transaction each, on the given database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.settings import GatewaySettings
from services.gateway.tokens import repository, service
from services.gateway.tokens.keys import OPERATOR, KeyRecord
from services.gateway.tokens.schemas import ClientIn
from shared.crypto import cipher_for
from shared.db import create_engine, sessionmaker
from shared.problems import ProblemError

T = TypeVar("T")


async def _in_transaction(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


async def ensure_key(url: str, settings: GatewaySettings) -> tuple[KeyRecord, bool]:
    cipher = cipher_for(settings)
    return await _in_transaction(url, lambda s: service.ensure_signing_key(s, cipher, settings, origin=OPERATOR))


async def rotate_key(url: str, settings: GatewaySettings, *, delay: float) -> tuple[KeyRecord, list[KeyRecord]]:
    cipher = cipher_for(settings)
    return await _in_transaction(url, lambda s: service.rotate_signing_key(s, cipher, settings, delay=delay))


async def list_keys(url: str) -> list[KeyRecord]:
    return await _in_transaction(url, service.list_signing_keys)


async def create_client(
    url: str, *, client_id: str, name: str, role: str, scopes: list[str], partner: str | None
) -> dict[str, Any]:
    # The same checks as the admin endpoint's body (id, name and scope formats).
    ClientIn(client_id=client_id, name=name, role=role, scopes=scopes)

    async def work(session: AsyncSession) -> dict[str, Any]:
        partner_id = None
        if partner is not None:
            found = await repository.partner_by_name(session, partner)
            if found is None:
                raise ProblemError("client_partner_unknown", partner=partner)
            partner_id = found.id
        client, secret = await service.create_client(
            session, client_id=client_id, name=name, role=role, scopes=scopes, partner_id=partner_id
        )
        return {"client_id": client.client_id, "name": client.name, "role": role, "scopes": list(client.scopes),
                "partner": partner, "client_secret": secret}

    return await _in_transaction(url, work)


async def ensure_development_clients(url: str, services: list[str], folder: Path) -> dict[str, tuple[str, str]]:
    """A machine client per service for a development system (`sprout up`): `sprout-<service>`, role
    service, its secret kept in `folder` (mode 600) beside the embedded database, so each run finds it.

    A client whose secret file is missing gets a new secret (the old one cannot be read back).
    Production provisions its clients once, by hand (deploy/README.md), never this way.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    async def work(session: AsyncSession) -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        for name in services:
            client_id = f"sprout-{name}"
            kept = folder / f"{client_id}.secret"
            exists = await repository.client_by_client_id(session, client_id) is not None
            if exists and kept.exists():
                found[name] = (client_id, kept.read_text().strip())
                continue
            if exists:
                _, secret = await service.reset_client_secret(session, client_id)
            else:
                _, secret = await service.create_client(
                    session, client_id=client_id, name=f"Sprout {name}", role="service", scopes=[], partner_id=None
                )
            kept.touch(mode=0o600)
            kept.write_text(secret + "\n")
            found[name] = (client_id, secret)
        return found

    return await _in_transaction(url, work)
