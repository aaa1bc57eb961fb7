"""The shared event table: events, subscriptions, deliveries, and the NOTIFY trigger.

Revision ID: e0001
Revises:
Create Date: 2026-11-28 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("traceparent", sa.String(55), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_event"),
        sa.UniqueConstraint("event_id", name="uq_event_event_id"),
        schema="events",
    )
    op.create_index("ix_event_type_id", "event", ["type", "id"], schema="events")
    op.create_index("ix_event_occurred_at", "event", ["occurred_at"], schema="events")

    op.create_table(
        "subscription",
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_type", name="pk_subscription"),
        schema="events",
    )

    status = postgresql.ENUM("pending", "done", "dead", name="delivery_status", schema="events")
    status.create(op.get_bind())
    op.create_table(
        "delivery",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column(
            "status",
            postgresql.ENUM(name="delivery_status", schema="events", create_type=False),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_delivery"),
        sa.UniqueConstraint("consumer", "event_id", name="uq_delivery_consumer"),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.event.id"], name="fk_delivery_event_id_event", ondelete="CASCADE"
        ),
        schema="events",
    )
    op.create_index(
        "ix_delivery_pending", "delivery", ["consumer", "id"], schema="events",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_delivery_pending_subject", "delivery", ["consumer", "subject", "id"], schema="events",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_delivery_done_at", "delivery", ["done_at"], schema="events",
        postgresql_where=sa.text("status = 'done'"),
    )
    op.create_index(
        "ix_delivery_dead", "delivery", ["consumer", "id"], schema="events",
        postgresql_where=sa.text("status = 'dead'"),
    )
    op.create_index("ix_delivery_event_id", "delivery", ["event_id"], schema="events")

    # One small NOTIFY per new delivery, naming the consumer; PostgreSQL folds duplicates
    # within a transaction, so a publish that fans out to three consumers sends three.
    op.execute(
        """
        CREATE FUNCTION events.notify_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('sprout_events', NEW.consumer);
            RETURN NULL;
        END $$;
        """
    )
    op.execute(
        """
        CREATE TRIGGER delivery_notify AFTER INSERT ON events.delivery
        FOR EACH ROW EXECUTE FUNCTION events.notify_delivery();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS delivery_notify ON events.delivery")
    op.execute("DROP FUNCTION IF EXISTS events.notify_delivery()")
    op.drop_table("delivery", schema="events")
    op.execute("DROP TYPE IF EXISTS events.delivery_status")
    op.drop_table("subscription", schema="events")
    op.drop_table("event", schema="events")
