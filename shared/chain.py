"""A tamper-evident record: a hash chain of one service's decisions, kept in the service's own schema.

Selection records every score, override, decision, publication and objection answer in it;
courses and tracking their approvals. Each entry commits with the change it records (the
same session; `append` never commits), and names that change: its `kind`
("score.entered"), its subject (a table's row), its actor, and its `payload` (what the row
does not hold: a reason, a file's digest). For a table the chain tracks (`track`), the entry
also holds `state`: the tracked columns of the row as they are in the appending
transaction (null when the row is gone: the entry records a deletion). Because the
snapshot is always taken by the chain itself, a caller cannot vouch for a row with a
payload that does not match it.

    chain = Chain(SCHEMA, Base.metadata)                                    # services/selection/db.py
    chain.track(Score.__table__, ["candidate_id", "expert_id", "value", "state"])
    await chain.append(session, kind="score.entered", table=Score.__table__, row_id=score.id, actor=principal.id)
    create_chain_table("selection")                                         # its migration

Order without forks. Appends serialise on a transaction-scoped advisory lock of the chain
(`advisory_key(f"sprout.chain.{schema}.{name}")`), and read the head under it, so
concurrent transactions form one chain with gapless `seq`; the lock is held until the
appending transaction ends, which also orders the chain by commit. A rolled-back
transaction leaves no entry and no hole (seq comes from the head, not a sequence).
A service keeps its chain's transactions short: every appender waits for the one before.

The hash. Each entry's `hash` is the SHA-256, in lowercase hex, of the UTF-8 bytes of the
canonical JSON of the object with exactly these keys:

    actor, at, kind, payload, prev_hash, seq, state, subject_id, subject_table

where `prev_hash` is the previous entry's hash (64 zeros before the first entry, seq 1),
and the canonical JSON (`canonical_json`) is: keys sorted by code point, no whitespace
(separators "," and ":"), non-ASCII characters as themselves (not \\u escapes), and values
in one fixed form:

- null, true, false, strings, and integers as JSON writes them (`seq` is an integer);
- a UUID as its 36-character lowercase hyphenated text;
- a Decimal or a float as a string of its plain decimal digits: no exponent, no trailing
  zeros after the point, no point when nothing follows it, "0" for any zero
  (Decimal("7.50") -> "7.5", 1e20 -> "100000000000000000000"); NaN and infinities refused;
- a datetime (aware only) in UTC as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (always six digits of
  microseconds); a date as "YYYY-MM-DD";
- an enum as its value; lists and tuples as arrays; mappings (string keys) as objects.

`subject_id` is the row id in that fixed form as a string (a UUID's text, an integer's
digits); `subject_table` the table's name without schema; both null for an entry with no
subject. Payload and state are stored in that canonical form, so what PostgreSQL's JSONB
gives back hashes to the same bytes (JSONB reorders keys, and would turn a float into
something else: hence floats as strings). Text with a NUL character cannot be stored.

What it detects, and what it does not (threat model). Someone with write access to the
database who changes rows by hand, but does not recompute the chain: a tracked row
updated (`row_altered`, naming the table, the row, its last entry and the columns that
differ), inserted without an entry (`row_unrecorded`) or deleted (`row_deleted`); an entry
edited (`entry_altered`: its hash no longer matches), deleted (`gap`), or re-hashed alone
(`broken_link` at the next entry). It cannot detect someone who rewrites the chain from
the altered entry to the head with recomputed hashes, or deletes the newest entries,
since every hash is computable by anyone who can read the table: nothing here is secret.
What defeats that is publishing the head (seq and hash) somewhere the database's writers
cannot rewrite: `verify` logs it (`record chain verified`, with `head_seq` and
`head_hash`), and a service can put it in an event or a published report; a head that once
was published and later is not an ancestor of the chain's head proves a rewrite. Columns
of a tracked table that are not tracked, and untracked tables, are not protected at all.
A service that starts tracking another column appends an entry per existing row, or
verification reports the rows as altered.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    exists,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.db import advisory_key, make_metadata

log = logging.getLogger(__name__)

GENESIS = "0" * 64
# The keys of the hashed object, as the module docstring lists them.
HASHED = ("actor", "at", "kind", "payload", "prev_hash", "seq", "state", "subject_id", "subject_table")
BATCH = 1000
MAX_FINDINGS = 100


# ---------------------------------------------------------------- the canonical encoding


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"the chain records finite numbers only, not {value}")
    digits = format(value, "f")
    if "." in digits:
        digits = digits.rstrip("0").rstrip(".")
    return "0" if digits in ("", "-0") else digits


def canonical(value: Any) -> Any:
    """`value` in the chain's fixed form: JSON values only, as the module docstring defines them."""
    if value is None or isinstance(value, (bool, int, str)) and not isinstance(value, Enum):
        return value
    if isinstance(value, Enum):
        return canonical(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, float):
        return _decimal_text(Decimal(repr(value)))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("the chain records aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("the chain records mappings with string keys only")
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    raise TypeError(f"the chain cannot record a {type(value).__qualname__}")


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def entry_hash(
    *, seq: int, at: datetime, kind: str, subject_table: str | None, subject_id: str | None, actor: str,
    state: Mapping[str, Any] | None, payload: Mapping[str, Any], prev_hash: str,
) -> str:
    document = {
        "actor": actor, "at": at, "kind": kind, "payload": payload, "prev_hash": prev_hash, "seq": seq,
        "state": state, "subject_id": subject_id, "subject_table": subject_table,
    }
    return hashlib.sha256(canonical_json(document)).hexdigest()


# ---------------------------------------------------------------- the table


def chain_table(metadata: MetaData, name: str = "record_chain") -> Table:
    table = Table(
        name,
        metadata,
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("kind", String(80), nullable=False),
        Column("subject_table", String(63)),
        Column("subject_id", String(100)),
        Column("actor", String(200), nullable=False),
        # SQL NULL, not JSON null, when the entry records no row or a deleted one.
        Column("state", JSONB(none_as_null=True)),
        Column("payload", JSONB, nullable=False),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False, unique=True),
    )
    # A row's history and its last entry (verify asks that for every tracked row).
    Index(f"ix_{name}_subject", table.c.subject_table, table.c.subject_id, table.c.seq.desc())
    return table


def create_chain_table(schema: str, name: str = "record_chain") -> None:
    """Migration step: the chain's table in `schema`."""
    from alembic import op

    chain_table(make_metadata(schema), name).create(op.get_bind())


def drop_chain_table(schema: str, name: str = "record_chain") -> None:
    from alembic import op

    op.drop_table(name, schema=schema)


# ---------------------------------------------------------------- what it holds and answers


@dataclass(frozen=True)
class ChainEntry:
    seq: int
    at: datetime
    kind: str
    subject_table: str | None
    subject_id: str | None
    actor: str
    state: dict[str, Any] | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def recomputed_hash(self) -> str:
        return entry_hash(
            seq=self.seq, at=self.at, kind=self.kind, subject_table=self.subject_table, subject_id=self.subject_id,
            actor=self.actor, state=self.state, payload=self.payload, prev_hash=self.prev_hash,
        )


@dataclass(frozen=True)
class Change:
    """One entry to append: what happened, to which row, by whom."""

    kind: str
    actor: str
    table: Table | None = None
    row_id: Any = None
    payload: Mapping[str, Any] | None = None


class Reason(StrEnum):
    gap = "gap"  # entries are missing: seq jumps
    broken_link = "broken_link"  # prev_hash is not the previous entry's hash
    entry_altered = "entry_altered"  # the entry's hash does not match its contents
    row_altered = "row_altered"  # a tracked row differs from its last entry
    row_unrecorded = "row_unrecorded"  # a tracked row no entry vouches for
    row_deleted = "row_deleted"  # a tracked row is gone, though its last entry records it


@dataclass(frozen=True)
class Finding:
    reason: Reason
    seq: int | None = None
    table: str | None = None
    row_id: str | None = None
    columns: tuple[str, ...] = ()
    detail: str = ""


@dataclass
class Verification:
    ok: bool = True
    entries: int = 0
    rows: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    findings: list[Finding] = field(default_factory=list)
    # All findings, of which the first `MAX_FINDINGS` are listed.
    findings_total: int = 0

    def add(self, finding: Finding, limit: int) -> None:
        self.ok = False
        self.findings_total += 1
        if len(self.findings) < limit:
            self.findings.append(finding)


@dataclass(frozen=True)
class _Tracked:
    table: Table
    columns: tuple[str, ...]
    key: str


def _subject_id(row_id: Any) -> str | None:
    return None if row_id is None else str(canonical(row_id))


def _entry(row: Any) -> ChainEntry:
    return ChainEntry(
        seq=row.seq, at=row.at, kind=row.kind, subject_table=row.subject_table, subject_id=row.subject_id,
        actor=row.actor, state=row.state, payload=row.payload, prev_hash=row.prev_hash, hash=row.hash,
    )


class Chain:
    """One service's chain: its table, the tables it vouches for, appending and verifying."""

    def __init__(self, schema: str, metadata: MetaData, name: str = "record_chain") -> None:
        if metadata.schema != schema:
            raise ValueError(f"the chain's table goes in {schema!r}, the metadata's schema is {metadata.schema!r}")
        self.schema, self.name = schema, name
        self.table = chain_table(metadata, name)
        self.lock_key = advisory_key(f"sprout.chain.{schema}.{name}")
        self._tracked: dict[str, _Tracked] = {}

    def track(self, table: Table, columns: Sequence[str], key: str = "id") -> None:
        """Vouch for `table`'s rows: each entry about one holds its `columns`, and verify compares them."""
        missing = [c for c in (key, *columns) if c not in table.c]
        if missing:
            raise ValueError(f"{table.name} has no column {', '.join(missing)}")
        if table.schema != self.schema:
            raise ValueError(f"{table.name} is in {table.schema!r}; the chain of {self.schema!r} tracks its own schema's tables")
        self._tracked[table.name] = _Tracked(table, tuple(columns), key)

    # ------------------------------------------------------------ appending

    async def append(
        self, session: AsyncSession, *, kind: str, table: Table | None, row_id: Any, actor: str,
        payload: Mapping[str, Any] | None = None,
    ) -> ChainEntry:
        """Append one entry in `session`'s transaction (committed with it, never by this)."""
        [entry] = await self.append_many(session, [Change(kind, actor, table, row_id, payload)])
        return entry

    async def append_many(self, session: AsyncSession, changes: Sequence[Change]) -> list[ChainEntry]:
        """Append one entry per change, in order, under one lock, in one INSERT (a bulk upload's scores)."""
        if not changes:
            return []
        # Rows changed through the ORM are read as this transaction has them.
        await session.flush()
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": self.lock_key})
        states = await self._states(session, changes)
        t = self.table
        head = (await session.execute(select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1))).first()
        seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS)
        at = clock.now()
        entries: list[ChainEntry] = []
        for change in changes:
            seq += 1
            subject_table = None if change.table is None else change.table.name
            subject_id = _subject_id(change.row_id)
            tracked = subject_table in self._tracked
            fields: dict[str, Any] = {
                "seq": seq, "at": at, "kind": change.kind, "subject_table": subject_table, "subject_id": subject_id,
                "actor": change.actor, "state": states.get((subject_table, subject_id)) if tracked else None,
                "payload": canonical(dict(change.payload or {})), "prev_hash": prev_hash,
            }
            entry = ChainEntry(**fields, hash=entry_hash(**fields))
            entries.append(entry)
            prev_hash = entry.hash
        await session.execute(t.insert(), [vars(e) for e in entries])
        return entries

    async def _states(self, session: AsyncSession, changes: Sequence[Change]) -> dict[tuple[str, str], dict[str, Any]]:
        """The tracked columns of every tracked row the changes name, one query per table."""
        wanted: dict[str, list[Any]] = {}
        for change in changes:
            if change.table is not None and change.table.name in self._tracked and change.row_id is not None:
                wanted.setdefault(change.table.name, []).append(change.row_id)
        states: dict[tuple[str, str], dict[str, Any]] = {}
        for name, ids in wanted.items():
            tracked = self._tracked[name]
            key = tracked.table.c[tracked.key]
            # One array parameter, however many rows a bulk upload names.
            ids_param = bindparam(f"ids_{name}", list(set(ids)), type_=ARRAY(key.type))
            stmt = select(key, *(tracked.table.c[c] for c in tracked.columns)).where(key == any_(ids_param))
            for row in (await session.execute(stmt)).mappings():
                states[(name, _subject_id(row[tracked.key]))] = canonical({c: row[c] for c in tracked.columns})
        return states

    # ------------------------------------------------------------ reading

    async def head(self, session: AsyncSession) -> ChainEntry | None:
        t = self.table
        row = (await session.execute(select(t).order_by(t.c.seq.desc()).limit(1))).first()
        return None if row is None else _entry(row)

    async def entries(self, session: AsyncSession, *, table: Table | str, row_id: Any) -> list[ChainEntry]:
        """The history of one row, oldest first."""
        t = self.table
        name = table if isinstance(table, str) else table.name
        stmt = select(t).where(t.c.subject_table == name, t.c.subject_id == _subject_id(row_id)).order_by(t.c.seq)
        return [_entry(row) for row in await session.execute(stmt)]

    # ------------------------------------------------------------ verifying

    async def verify(self, session: AsyncSession, *, batch: int = BATCH, max_findings: int = MAX_FINDINGS) -> Verification:
        """Check every tracked row against its last entry, then every entry's hash and link, in batches.

        The rows first: the walk that follows reaches every entry the row checks relied on.
        """
        report = Verification()
        for tracked in self._tracked.values():
            await self._check_rows(session, tracked, report, batch, max_findings)
            await self._check_deleted(session, tracked, report, batch, max_findings)
        await self._walk(session, report, batch, max_findings)
        log.info(
            "record chain verified",
            extra={"chain": f"{self.schema}.{self.name}", "ok": report.ok, "entries": report.entries,
                   "head_seq": report.head_seq, "head_hash": report.head_hash, "findings": report.findings_total},
        )
        return report

    async def _walk(self, session: AsyncSession, report: Verification, batch: int, limit: int) -> None:
        t = self.table
        expected, prev_hash = 1, GENESIS
        while True:
            stmt = select(t).where(t.c.seq >= expected).order_by(t.c.seq).limit(batch)
            rows = (await session.execute(stmt)).all()
            if not rows:
                return
            for row in rows:
                entry = _entry(row)
                where = {"seq": entry.seq, "table": entry.subject_table, "row_id": entry.subject_id}
                if entry.seq != expected:
                    report.add(Finding(Reason.gap, **where, detail=f"entries {expected} to {entry.seq - 1} are missing"), limit)
                elif entry.prev_hash != prev_hash:
                    report.add(Finding(Reason.broken_link, **where, detail="prev_hash is not the previous entry's hash"), limit)
                if entry.recomputed_hash() != entry.hash:
                    report.add(Finding(Reason.entry_altered, **where, detail="the hash does not match the entry"), limit)
                expected, prev_hash = entry.seq + 1, entry.hash
                report.entries += 1
                report.head_seq, report.head_hash = entry.seq, entry.hash

    async def _check_rows(self, session: AsyncSession, tracked: _Tracked, report: Verification, batch: int, limit: int) -> None:
        """Every row of the table against the last entry about it: one statement per batch, so one snapshot."""
        t, chain = tracked.table, self.table
        key = t.c[tracked.key]
        after: Any = None
        while True:
            rows = select(key.label("row_key"), *(t.c[c] for c in tracked.columns)).order_by(key).limit(batch)
            if after is not None:
                rows = rows.where(key > after)
            rows = rows.subquery("row")
            last = (
                select(chain.c.seq.label("chain_seq"), chain.c.state.label("chain_state"))
                .where(chain.c.subject_table == t.name, chain.c.subject_id == cast(rows.c.row_key, Text))
                .order_by(chain.c.seq.desc())
                .limit(1)
                .lateral("last")
            )
            stmt = select(rows, last).select_from(rows.outerjoin(last, true())).order_by(rows.c.row_key)
            found = (await session.execute(stmt)).mappings().all()
            if not found:
                return
            for row in found:
                self._compare(tracked, row, report, limit)
            report.rows += len(found)
            after = found[-1]["row_key"]

    def _compare(self, tracked: _Tracked, row: Mapping[str, Any], report: Verification, limit: int) -> None:
        where = {"seq": row["chain_seq"], "table": tracked.table.name, "row_id": _subject_id(row["row_key"])}
        state = row["chain_state"]
        if row["chain_seq"] is None:
            report.add(Finding(Reason.row_unrecorded, **where, detail="no entry records this row"), limit)
        elif state is None:
            report.add(Finding(Reason.row_unrecorded, **where, detail="the last entry records this row deleted"), limit)
        else:
            differ = tuple(c for c in tracked.columns if c not in state or canonical(row[c]) != state[c])
            if differ:
                report.add(Finding(Reason.row_altered, **where, columns=differ, detail="the row differs from its last entry"), limit)

    async def _check_deleted(self, session: AsyncSession, tracked: _Tracked, report: Verification, batch: int, limit: int) -> None:
        """Rows whose last entry records them present, but which are gone."""
        t, chain = tracked.table, self.table
        key = t.c[tracked.key]
        after = ""
        while True:
            last = (
                select(chain.c.subject_id, chain.c.seq, chain.c.state.is_not(None).label("recorded"))
                .ext(distinct_on(chain.c.subject_id))
                .where(chain.c.subject_table == t.name, chain.c.subject_id > after)
                .order_by(chain.c.subject_id, chain.c.seq.desc())
                .limit(batch)
                .subquery("last")
            )
            present = exists().where(key == cast(last.c.subject_id, key.type))
            stmt = select(last, present.label("present")).order_by(last.c.subject_id)
            found = (await session.execute(stmt)).all()
            if not found:
                return
            for row in found:
                if row.recorded and not row.present:
                    finding = Finding(Reason.row_deleted, seq=row.seq, table=t.name, row_id=row.subject_id, detail="the row is gone")
                    report.add(finding, limit)
            after = found[-1].subject_id
