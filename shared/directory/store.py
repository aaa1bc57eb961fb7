"""Writing the read model: one upsert per record kind, used alike by the event consumer and the resync.

A record is written only when its `version` is larger than the stored one (the gateway's
`gateway.directory_version` orders the changes of each record), so a redelivered event, an
event delivered after a newer one, and a snapshot row older than an event already applied
all leave the row as it is.

The consumer's handlers take the directory's lock shared and the resync takes it exclusive
(`lock_shared`, `lock_exclusive`: transaction-scoped advisory locks keyed by the schema), so
no event is applied while a resync compares the read model with the gateway's snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.db import advisory_key
from shared.directory.tables import DirectoryTables
from shared.events.contracts.identity import (
    ConsentRecord,
    DirectoryRecord,
    GuardianLinkRecord,
    PartnerRecord,
    PersonRecord,
    SchoolRecord,
)

Executor = AsyncSession | AsyncConnection


_HELD = "sprout.directory.lock_held"  # session.info: schema -> the root transaction holding its lock


def lock_key(schema: str) -> int:
    """The advisory lock of `schema`'s read model (a signed 64-bit key)."""
    return advisory_key(f"sprout.directory.{schema}")


async def lock_shared(db: Executor, schema: str) -> None:
    """Once per transaction: a consumer's batch applies many events in one."""
    if isinstance(db, AsyncSession):
        transaction = db.sync_session.get_transaction()
        held = db.sync_session.info.setdefault(_HELD, {})
        if transaction is not None and held.get(schema) is transaction:
            return
        await db.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": lock_key(schema)})
        held[schema] = transaction
        return
    await db.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": lock_key(schema)})


async def lock_exclusive(db: Executor, schema: str) -> None:
    await db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(schema)})


def table_for(tables: DirectoryTables, kind: type[DirectoryRecord]) -> Table:
    return {
        PersonRecord: tables.person,
        GuardianLinkRecord: tables.guardian_link,
        SchoolRecord: tables.school,
        PartnerRecord: tables.partner,
        ConsentRecord: tables.consent,
    }[kind]


def row_of(record: DirectoryRecord) -> dict[str, Any]:
    """The record as a row of its table (the columns are the record's fields)."""
    return record.model_dump()


async def apply(db: Executor, tables: DirectoryTables, records: Sequence[DirectoryRecord]) -> None:
    """Upsert `records` (all of one kind), each only over an older version."""
    if not records:
        return
    kinds = {type(r) for r in records}
    if len(kinds) != 1:
        raise TypeError("apply takes records of one kind at a time")
    table = table_for(tables, kinds.pop())
    # One statement may not touch a row twice: keep each record's newest version.
    newest: dict[tuple, dict[str, Any]] = {}
    keys = [c.name for c in table.primary_key.columns]
    for record in records:
        row = row_of(record)
        key = tuple(row[k] for k in keys)
        if key not in newest or newest[key]["version"] < row["version"]:
            newest[key] = row
    stmt = pg_insert(table).values(list(newest.values()))
    updated = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys and c.name != "updated_at"}
    stmt = stmt.on_conflict_do_update(
        index_elements=keys,
        set_={**updated, "updated_at": text("now()")},
        where=table.c.version < stmt.excluded.version,
    )
    await db.execute(stmt)


def group_by_kind(records: Iterable[DirectoryRecord]) -> dict[type[DirectoryRecord], list[DirectoryRecord]]:
    grouped: dict[type[DirectoryRecord], list[DirectoryRecord]] = {}
    for record in records:
        grouped.setdefault(type(record), []).append(record)
    return grouped
