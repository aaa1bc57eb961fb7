"""Identity and personal data: schools, user accounts, guardian links, partners, consents, the PII access log.

Revision ID: gat0002
Revises: gat0001
Create Date: 2026-11-28 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "gat0002"
down_revision: str | None = "gat0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partner",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner")),
        sa.UniqueConstraint("name", name=op.f("uq_partner_name")),
        schema="gateway",
    )
    op.create_index("ix_partner_name_id", "partner", ["name", "id"], unique=False, schema="gateway")
    op.create_table(
        "pii_access_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("reader_id", sa.String(length=100), nullable=False),
        sa.Column("reader_roles", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("student_id", sa.UUID(), nullable=False),
        sa.Column("fields", postgresql.ARRAY(sa.String(length=30)), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pii_access_log")),
        schema="gateway",
    )
    op.create_index("ix_pii_access_log_at_id", "pii_access_log", ["at", "id"], unique=False, schema="gateway")
    op.create_index("ix_pii_access_log_reader_id_at", "pii_access_log", ["reader_id", "at"], unique=False, schema="gateway")
    op.create_index("ix_pii_access_log_student_id_at", "pii_access_log", ["student_id", "at"], unique=False, schema="gateway")
    op.create_table(
        "school",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=False),
        sa.Column("level", sa.Enum("primary", "middle", "high", name="school_level", schema="gateway"), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school")),
        sa.UniqueConstraint("name", name=op.f("uq_school_name")),
        schema="gateway",
    )
    op.create_index("ix_school_name_id", "school", ["name", "id"], unique=False, schema="gateway")
    op.create_table(
        "user_account",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("roles", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("school_id", sa.UUID(), nullable=True),
        sa.Column("partner_id", sa.UUID(), nullable=True),
        sa.Column("grade", sa.SmallInteger(), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("id_number_cipher", sa.LargeBinary(), nullable=True),
        sa.Column("id_number_index", sa.String(length=64), nullable=True),
        sa.Column("phone_cipher", sa.LargeBinary(), nullable=True),
        sa.Column("phone_index", sa.String(length=64), nullable=True),
        sa.Column("address_cipher", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint("NOT ('coordinator' = ANY(roles)) OR school_id IS NOT NULL", name=op.f("ck_user_account_coordinator_has_school")),
        sa.CheckConstraint("NOT ('student' = ANY(roles)) OR (school_id IS NOT NULL AND grade IS NOT NULL)", name=op.f("ck_user_account_student_has_school")),
        sa.CheckConstraint("('partner' = ANY(roles)) = (partner_id IS NOT NULL)", name=op.f("ck_user_account_partner_iff_partner_role")),
        sa.CheckConstraint("roles <@ ARRAY['admin', 'staff', 'expert', 'mentor', 'coordinator', 'student', 'guardian', 'partner']::varchar[]", name=op.f("ck_user_account_roles_known")),
        sa.CheckConstraint("cardinality(roles) >= 1", name=op.f("ck_user_account_roles_not_empty")),
        sa.CheckConstraint("grade BETWEEN 1 AND 12", name=op.f("ck_user_account_grade_range")),
        sa.ForeignKeyConstraint(["school_id"], ["gateway.school.id"], name=op.f("fk_user_account_school_id_school")),
        sa.ForeignKeyConstraint(["partner_id"], ["gateway.partner.id"], name=op.f("fk_user_account_partner_id_partner")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("id_number_index", name=op.f("uq_user_account_id_number_index")),
        schema="gateway",
    )
    op.create_index(op.f("ix_gateway_user_account_phone_index"), "user_account", ["phone_index"], unique=False, schema="gateway")
    op.create_index("ix_user_account_created_at_id", "user_account", ["created_at", "id"], unique=False, schema="gateway")
    op.create_index("ix_user_account_school_id_id", "user_account", ["school_id", "id"], unique=False, schema="gateway")
    op.create_index("uq_user_account_username_lower", "user_account", [sa.literal_column("lower(username)")], unique=True, schema="gateway")
    op.create_table(
        "consent",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("student_id", sa.UUID(), nullable=False),
        sa.Column("guardian_id", sa.UUID(), nullable=True),
        sa.Column("purpose", sa.Enum("participation", "partner_sharing", name="consent_purpose", schema="gateway"), nullable=False),
        sa.Column("partner_id", sa.UUID(), nullable=True),
        sa.Column("text_version", sa.String(length=50), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint("(purpose = 'partner_sharing') = (partner_id IS NOT NULL)", name=op.f("ck_consent_partner_iff_sharing")),
        sa.CheckConstraint("withdrawn_at IS NULL OR withdrawn_at >= given_at", name=op.f("ck_consent_withdrawn_after_given")),
        sa.ForeignKeyConstraint(["guardian_id"], ["gateway.user_account.id"], name=op.f("fk_consent_guardian_id_user_account")),
        sa.ForeignKeyConstraint(["partner_id"], ["gateway.partner.id"], name=op.f("fk_consent_partner_id_partner")),
        sa.ForeignKeyConstraint(["student_id"], ["gateway.user_account.id"], name=op.f("fk_consent_student_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent")),
        schema="gateway",
    )
    op.create_index("ix_consent_given_at_id", "consent", ["given_at", "id"], unique=False, schema="gateway")
    op.create_index("ix_consent_student_id_given_at", "consent", ["student_id", "given_at"], unique=False, schema="gateway")
    op.create_index("uq_consent_open", "consent", ["student_id", "purpose", sa.literal_column("coalesce(partner_id, '00000000-0000-0000-0000-000000000000'::uuid)")], unique=True, schema="gateway", postgresql_where=sa.text("withdrawn_at IS NULL"))
    op.create_table(
        "guardian_link",
        sa.Column("guardian_id", sa.UUID(), nullable=False),
        sa.Column("student_id", sa.UUID(), nullable=False),
        sa.Column("relation", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("relation IN ('father', 'mother', 'grandparent', 'guardian', 'other')", name=op.f("ck_guardian_link_relation_known")),
        sa.CheckConstraint("guardian_id <> student_id", name=op.f("ck_guardian_link_not_self")),
        sa.ForeignKeyConstraint(["guardian_id"], ["gateway.user_account.id"], name=op.f("fk_guardian_link_guardian_id_user_account")),
        sa.ForeignKeyConstraint(["student_id"], ["gateway.user_account.id"], name=op.f("fk_guardian_link_student_id_user_account")),
        sa.PrimaryKeyConstraint("guardian_id", "student_id", name=op.f("pk_guardian_link")),
        schema="gateway",
    )
    op.create_index("ix_guardian_link_student_id", "guardian_link", ["student_id"], unique=False, schema="gateway")


def downgrade() -> None:
    for table in ("guardian_link", "consent", "user_account", "school", "pii_access_log", "partner"):
        op.drop_table(table, schema="gateway")
    op.execute("DROP TYPE IF EXISTS gateway.consent_purpose")
    op.execute("DROP TYPE IF EXISTS gateway.school_level")
