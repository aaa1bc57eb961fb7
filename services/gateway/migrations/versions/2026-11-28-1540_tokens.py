"""Tokens and limits: signing keys, machine clients, refresh tokens, the login throttle.

Revision ID: gat0003
Revises: gat0002
Create Date: 2026-11-28 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "gat0003"
down_revision: str | None = "gat0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signing_key",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_key_cipher", sa.LargeBinary(), nullable=True),
        sa.Column("public_jwk", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("origin IN ('operator', 'generated')", name=op.f("ck_signing_key_origin_known")),
        sa.CheckConstraint(
            "retired_at IS NULL OR retired_at >= activated_at", name=op.f("ck_signing_key_retired_after_activated")
        ),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_key")),
        schema="gateway",
    )
    op.create_table(
        "client",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("roles", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String(length=100)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=True),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "cardinality(roles) = 1 AND roles <@ ARRAY['partner', 'service']::varchar[]",
            name=op.f("ck_client_roles_known"),
        ),
        sa.CheckConstraint(
            "('partner' = ANY(roles)) = (partner_id IS NOT NULL)", name=op.f("ck_client_partner_iff_partner_role")
        ),
        sa.ForeignKeyConstraint(["partner_id"], ["gateway.partner.id"], name=op.f("fk_client_partner_id_partner")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client")),
        sa.UniqueConstraint("client_id", name=op.f("uq_client_client_id")),
        schema="gateway",
    )
    op.create_index("ix_client_created_at_id", "client", ["created_at", "id"], unique=False, schema="gateway")
    op.create_table(
        "refresh_token",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("family_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String(length=100)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replaced_by", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["gateway.user_account.id"], name=op.f("fk_refresh_token_user_id_user_account"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_token_token_hash")),
        schema="gateway",
    )
    op.create_index("ix_refresh_token_family_id", "refresh_token", ["family_id"], unique=False, schema="gateway")
    op.create_index("ix_refresh_token_user_id", "refresh_token", ["user_id"], unique=False, schema="gateway")
    op.create_index("ix_refresh_token_expires_at", "refresh_token", ["expires_at"], unique=False, schema="gateway")
    op.create_table(
        "login_throttle",
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_login_throttle")),
        schema="gateway",
    )


def downgrade() -> None:
    for table in ("login_throttle", "refresh_token", "client", "signing_key"):
        op.drop_table(table, schema="gateway")
