"""All SQL of the tokens domain: signing keys, machine clients, refresh tokens, and the identity rows it reads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.identity.models import GuardianLink, Partner, School, UserAccount
from services.gateway.tokens.models import Client, RefreshToken, SigningKey

# ---------------------------------------------------------------- signing keys

# Held while a process decides whether a key must be made, so two replicas starting at once
# on an empty table make one key, not two.
SIGNING_KEY_LOCK = 0x5350_4B45_5953  # "SPKEYS"


async def lock_signing_keys(session: AsyncSession) -> None:
    await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": SIGNING_KEY_LOCK})


async def published_keys(session: AsyncSession, now: datetime) -> Sequence[SigningKey]:
    stmt = select(SigningKey).where(or_(SigningKey.published_until.is_(None), SigningKey.published_until > now))
    return (await session.scalars(stmt)).all()


async def all_keys(session: AsyncSession) -> Sequence[SigningKey]:
    stmt = select(SigningKey).order_by(SigningKey.activated_at.desc()).execution_options(populate_existing=True)
    return (await session.scalars(stmt)).all()


async def add_key(session: AsyncSession, key: SigningKey) -> SigningKey:
    session.add(key)
    await session.flush()
    return key


async def wipe_retired_private_keys(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(
        update(SigningKey)
        .where(SigningKey.retired_at <= now, SigningKey.private_key_cipher.is_not(None))
        .values(private_key_cipher=None)
    )
    return result.rowcount or 0


# ---------------------------------------------------------------- users (identity's tables, read here)


async def user_by_username(session: AsyncSession, username: str) -> UserAccount | None:
    # lower() matches the unique index uq_user_account_username_lower.
    stmt = select(UserAccount).where(func.lower(UserAccount.username) == username.lower())
    return (await session.scalars(stmt)).one_or_none()


async def user_by_id(session: AsyncSession, user_id: uuid.UUID) -> UserAccount | None:
    return await session.get(UserAccount, user_id)


async def set_password_hash(session: AsyncSession, user_id: uuid.UUID, password_hash: str) -> None:
    # A bulk UPDATE leaves the row's `version` (its ETag) alone: a stronger hash of the same
    # password is not a change anyone editing the account needs to know about. "evaluate"
    # updates the account already loaded in this session too, so it never holds the old hash.
    await session.execute(
        update(UserAccount).where(UserAccount.id == user_id).values(password_hash=password_hash),
        execution_options={"synchronize_session": "evaluate"},
    )


async def school(session: AsyncSession, school_id: uuid.UUID) -> School | None:
    return await session.get(School, school_id)


async def children_of(session: AsyncSession, guardian_id: uuid.UUID) -> Sequence[tuple[UserAccount, str, School | None]]:
    stmt = (
        select(UserAccount, GuardianLink.relation, School)
        .join(GuardianLink, GuardianLink.student_id == UserAccount.id)
        .outerjoin(School, School.id == UserAccount.school_id)
        .where(GuardianLink.guardian_id == guardian_id)
        .order_by(UserAccount.display_name, UserAccount.id)
    )
    return [(u, rel, s) for u, rel, s in (await session.execute(stmt)).all()]


async def partner(session: AsyncSession, partner_id: uuid.UUID) -> Partner | None:
    return await session.get(Partner, partner_id)


async def partner_by_name(session: AsyncSession, name: str) -> Partner | None:
    return (await session.scalars(select(Partner).where(Partner.name == name))).one_or_none()


# ---------------------------------------------------------------- machine clients


async def client_by_client_id(session: AsyncSession, client_id: str) -> Client | None:
    return (await session.scalars(select(Client).where(Client.client_id == client_id))).one_or_none()


async def add_client(session: AsyncSession, client: Client) -> Client:
    session.add(client)
    await session.flush()
    return client


def clients_query() -> Select:
    return select(Client)


# ---------------------------------------------------------------- refresh tokens


async def add_refresh_token(session: AsyncSession, token: RefreshToken) -> RefreshToken:
    session.add(token)
    await session.flush()
    return token


async def refresh_token_for_update(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    # FOR UPDATE: two requests refreshing with the same token take turns, so the second one
    # sees the first one's use and counts as a reuse.
    stmt = select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
    return (await session.scalars(stmt)).one_or_none()


async def refresh_token_by_id_for_update(session: AsyncSession, token_id: uuid.UUID) -> RefreshToken | None:
    stmt = select(RefreshToken).where(RefreshToken.id == token_id).with_for_update()
    return (await session.scalars(stmt)).one_or_none()


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, now: datetime) -> int:
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount or 0


async def revoke_user_tokens(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> int:
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount or 0


async def delete_expired_refresh_tokens(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(delete(RefreshToken).where(RefreshToken.expires_at < before))
    return result.rowcount or 0
