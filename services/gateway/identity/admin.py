"""What `sprout user create` and `sprout pii rotate` run: one transaction each, on the given database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.identity import repository as repo
from services.gateway.identity import service
from services.gateway.identity.passwords import hash_password, password_problem
from services.gateway.settings import GatewaySettings
from services.gateway.tokens import service as tokens
from shared.crypto import FieldCipher, cipher_for
from shared.db import create_engine, sessionmaker
from shared.problems import ProblemError


@dataclass(frozen=True)
class CreatedUser:
    id: uuid.UUID
    username: str
    roles: list[str]


async def create_user(
    url: str,
    settings: GatewaySettings,
    *,
    username: str,
    roles: list[str],
    password: str | None,
    display_name: str | None,
    school: str | None = None,
    partner: str | None = None,
) -> CreatedUser:
    """A user made from the command line: how the first admin of a new deployment comes to be."""
    from services.gateway.identity.schemas import UserIn

    if password is not None and (problem := password_problem(password)):
        raise ProblemError("weak_password", reason=problem)
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with sessionmaker(engine)() as session, session.begin():
            school_id = None
            if school:
                found = await repo.school_by_name(session, school)
                if found is None:
                    raise ProblemError("school_not_found", school_id=school)
                school_id = found.id
            partner_id = None
            if partner:
                found_partner = await repo.partner_by_name(session, partner)
                if found_partner is None:
                    raise ProblemError("partner_not_found", partner_id=partner)
                partner_id = found_partner.id
            try:
                data = UserIn(
                    username=username, display_name=display_name or username, roles=roles, school_id=school_id,
                    partner_id=partner_id,
                )
            except ValidationError as exc:
                reason = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                raise ProblemError("profile_invalid", reason=reason) from None
            user = await service.create_user(session=session, data=data, cipher=cipher_for(settings))
            if password is not None:
                user.password_hash = hash_password(password)
                await session.flush()
            return CreatedUser(id=user.id, username=user.username, roles=list(user.roles))
    finally:
        await engine.dispose()


async def rotate_all(session: AsyncSession, cipher: FieldCipher) -> dict[str, int]:
    """Re-seal, in `session`, everything sealed with the key ring: personal data and signing keys."""
    users = await service.reencrypt_personal_data(session=session, cipher=cipher)
    keys = await tokens.reseal_signing_keys(session, cipher)
    return {"users": users, "signing_keys": keys}


async def rotate_personal_data(url: str, settings: GatewaySettings) -> dict[str, int]:
    """Re-seal everything sealed with an older key of SPROUT_PII_KEYS under the newest one."""
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with sessionmaker(engine)() as session, session.begin():
            return await rotate_all(session, cipher_for(settings))
    finally:
        await engine.dispose()
