"""`Idempotency-Key` for creates: a retried POST answers with the first attempt's response.

Each service keeps the keys in its own schema (`<schema>.idempotency_key`), written in the
same transaction as the create, so a key is stored exactly when the create committed.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import JSONB


def idempotency_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_key",
        metadata,
        Column("principal", String(200), primary_key=True, server_default=""),
        Column("key", String(255), primary_key=True),
        Column("method", String(10), nullable=False),
        Column("path", String(500), nullable=False),
        Column("request_hash", String(64), nullable=False),
        Column("status_code", Integer, nullable=True),
        Column("response_body", JSONB, nullable=True),
        Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    )


def create_idempotency_table(schema: str) -> None:
    """Migration step: the key table in `schema` (each service's first revision calls this)."""
    from alembic import op

    table = idempotency_table(MetaData(schema=schema))
    op.create_table(table.name, *[c._copy() for c in table.columns], schema=schema)


def drop_idempotency_table(schema: str) -> None:
    from alembic import op

    op.drop_table("idempotency_key", schema=schema)
