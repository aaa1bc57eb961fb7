"""Token tables: signing keys, machine clients and refresh tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, LargeBinary, String, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.db import Base


class SigningKey(Base):
    """An Ed25519 key the gateway signs access tokens with; its public half is in the JWKS.

    A key signs from `activated_at` until `retired_at`, and stays published until
    `published_until`, when the last token it signed has expired. The private half is sealed
    with the personal-data key ring (shared/crypto.py), and wiped once the key
    has retired: nobody needs it to verify.
    """

    __tablename__ = "signing_key"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_key_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # 'operator': made by `sprout keys ensure|rotate`; 'generated': the gateway made it for
    # itself at startup, which production refuses to sign with.
    origin: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("origin IN ('operator', 'generated')", name="origin_known"),
        CheckConstraint("retired_at IS NULL OR retired_at >= activated_at", name="retired_after_activated"),
    )


class Client(Base):
    """A machine client: a partner university's system, or one of our own services."""

    __tablename__ = "client"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    client_id: Mapped[str] = mapped_column(String(100), unique=True)
    # "sha256$<hex>": the secret is 256 random bits, so a slow hash would add nothing but
    # CPU per token request (see tokens/secrets.py).
    secret_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default=text("'{}'"))
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("gateway.partner.id"))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("ix_client_created_at_id", "created_at", "id"),
        CheckConstraint("cardinality(roles) = 1 AND roles <@ ARRAY['partner', 'service']::varchar[]", name="roles_known"),
        CheckConstraint("('partner' = ANY(roles)) = (partner_id IS NOT NULL)", name="partner_iff_partner_role"),
    )


class RefreshToken(Base):
    """One refresh token (stored as its SHA-256 only). Each use replaces it with a new one of the
    same family; presenting a used one again revokes the whole family."""

    __tablename__ = "refresh_token"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    family_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gateway.user_account.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default=text("'{}'"))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replaced_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))

    __table_args__ = (
        Index("ix_refresh_token_family_id", "family_id"),
        Index("ix_refresh_token_user_id", "user_id"),
        Index("ix_refresh_token_expires_at", "expires_at"),
    )
