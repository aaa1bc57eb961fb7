"""The tamper-evident record on a real database: a row or an entry altered by hand is named by verify;
concurrent appenders form one chain; the hash of an entry is pinned to bytes written out by hand."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Column, Numeric, String, Table, select, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared import clock
from shared.chain import GENESIS, Chain, Change, Reason, canonical, canonical_json, entry_hash
from shared.db import create_engine, make_metadata, sessionmaker


@dataclass
class Ledger:
    """A scratch schema with a score table the chain tracks (value and candidate, not the note)."""

    schema: str
    chain: Chain
    score: Table

    async def create(self, session: AsyncSession) -> None:
        await session.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        await session.run_sync(lambda sync: self.chain.table.metadata.create_all(sync.connection()))

    async def enter(self, session: AsyncSession, candidate: str, value: str, *, actor: str = "expert-1") -> uuid.UUID:
        """What a service does: write the score and record it, in one transaction."""
        score_id = uuid.uuid4()
        await session.execute(self.score.insert().values(id=score_id, candidate=candidate, value=Decimal(value), note="first"))
        await self.chain.append(session, kind="score.entered", table=self.score, row_id=score_id, actor=actor)
        return score_id

    async def change(self, session: AsyncSession, score_id: uuid.UUID, value: str) -> None:
        await session.execute(self.score.update().where(self.score.c.id == score_id).values(value=Decimal(value)))
        await self.chain.append(
            session, kind="score.changed", table=self.score, row_id=score_id, actor="staff-1", payload={"reason": "typo in the sheet"}
        )

    def sql(self, statement: str) -> text:
        return text(statement.format(s=f'"{self.schema}"'))


def ledger() -> Ledger:
    schema = f"chain_test_{uuid.uuid4().hex[:10]}"
    metadata = make_metadata(schema)
    score = Table(
        "score", metadata,
        Column("id", UUID(as_uuid=True), primary_key=True),
        Column("candidate", String(40), nullable=False),
        Column("value", Numeric(5, 2), nullable=False),
        Column("note", String(100)),
    )
    chain = Chain(schema, metadata)
    chain.track(score, ["candidate", "value"])
    return Ledger(schema, chain, score)


@pytest.fixture
async def book(session: AsyncSession) -> Ledger:
    """A ledger inside the test's transaction (rolled back with it)."""
    made = ledger()
    await made.create(session)
    return made


async def test_appended_entries_link_up_and_verify(book: Ledger, session: AsyncSession):
    entered = datetime(2026, 6, 1, 9, tzinfo=UTC)
    with clock.use_clock(clock.FrozenClock(entered)):
        a = await book.enter(session, "cand-a", "81.50")
        b = await book.enter(session, "cand-b", "77")
        await book.change(session, a, "85.25")
    report = await book.chain.verify(session, batch=2)
    head = await book.chain.head(session)
    assert (report.ok, report.findings, report.entries, report.rows) == (True, [], 3, 2)
    assert (report.head_seq, report.head_hash) == (3, head.hash)
    history = await book.chain.entries(session, table=book.score, row_id=a)
    assert [(e.seq, e.kind, e.state) for e in history] == [
        (1, "score.entered", {"candidate": "cand-a", "value": "81.5"}),
        (3, "score.changed", {"candidate": "cand-a", "value": "85.25"}),
    ]
    assert history[0].prev_hash == GENESIS and history[1].payload == {"reason": "typo in the sheet"}
    assert {e.at for e in history} == {entered}
    [second] = await book.chain.entries(session, table="score", row_id=b)
    assert history[1].prev_hash == second.hash == second.recomputed_hash()


async def test_a_score_altered_by_sql_is_named_with_its_entry_and_column(book: Ledger, session: AsyncSession):
    await book.enter(session, "cand-a", "81.50")
    b = await book.enter(session, "cand-b", "77")
    await book.change(session, b, "78")
    # A column the chain does not track may change freely.
    await session.execute(book.sql("UPDATE {s}.score SET note = 'second look'"))
    assert (await book.chain.verify(session)).ok
    await session.execute(book.sql("UPDATE {s}.score SET value = 99 WHERE id = :id"), {"id": b})
    report = await book.chain.verify(session)
    assert not report.ok
    [finding] = report.findings
    assert (finding.reason, finding.table, finding.row_id, finding.seq, finding.columns) == (
        Reason.row_altered, "score", str(b), 3, ("value",)
    )
    assert report.findings_total == 1


async def test_an_entry_whose_payload_was_edited_is_named(book: Ledger, session: AsyncSession):
    a = await book.enter(session, "cand-a", "60")
    await book.change(session, a, "65")
    await book.enter(session, "cand-b", "70")
    await session.execute(book.sql("""UPDATE {s}.record_chain SET payload = '{{"reason": "nobody asked"}}' WHERE seq = 2"""))
    report = await book.chain.verify(session)
    assert [(f.reason, f.seq, f.table, f.row_id) for f in report.findings] == [(Reason.entry_altered, 2, "score", str(a))]


async def test_an_entry_rehashed_alone_breaks_the_link_to_the_next(book: Ledger, session: AsyncSession):
    a = await book.enter(session, "cand-a", "60")
    await book.change(session, a, "65")
    await book.enter(session, "cand-b", "70")
    # Edit the state of entry 2 and the row to match it, recomputing that entry's hash: the next entry still points at the old one.
    await session.execute(book.sql("UPDATE {s}.score SET value = 90 WHERE id = :id"), {"id": a})
    [old] = [e for e in await book.chain.entries(session, table=book.score, row_id=a) if e.seq == 2]
    forged = {**vars(old), "state": {"candidate": "cand-a", "value": "90"}}
    del forged["hash"]
    await session.execute(
        book.sql("UPDATE {s}.record_chain SET state = CAST(:state AS jsonb), hash = :hash WHERE seq = 2"),
        {"state": canonical_json(forged["state"]).decode(), "hash": entry_hash(**forged)},
    )
    report = await book.chain.verify(session)
    assert [(f.reason, f.seq) for f in report.findings] == [(Reason.broken_link, 3)]


async def test_a_deleted_entry_is_a_gap(book: Ledger, session: AsyncSession):
    await book.enter(session, "cand-a", "60")
    b = await book.enter(session, "cand-b", "70")
    await book.enter(session, "cand-c", "80")
    await session.execute(book.sql("DELETE FROM {s}.record_chain WHERE seq = 2"))
    report = await book.chain.verify(session)
    found = {(f.reason, f.seq) for f in report.findings}
    assert (Reason.gap, 3) in found
    gap = next(f for f in report.findings if f.reason == Reason.gap)
    assert gap.detail == "entries 2 to 2 are missing"
    # The row entry 2 vouched for has no entry now.
    assert any(f.reason == Reason.row_unrecorded and f.row_id == str(b) for f in report.findings)
    assert report.entries == 2


async def test_rows_deleted_or_inserted_by_hand_are_named_and_a_recorded_deletion_is_not(book: Ledger, session: AsyncSession):
    a = await book.enter(session, "cand-a", "60")
    await book.enter(session, "cand-b", "70")
    c = await book.enter(session, "cand-c", "80")
    # The service deletes c and records it: the entry's state is null.
    await session.execute(book.score.delete().where(book.score.c.id == c))
    deleted = await book.chain.append(session, kind="score.deleted", table=book.score, row_id=c, actor="staff-1")
    assert deleted.state is None
    assert (await book.chain.verify(session)).ok
    await session.execute(book.sql("DELETE FROM {s}.score WHERE id = :id"), {"id": a})
    intruder = uuid.uuid4()
    await session.execute(
        book.sql("INSERT INTO {s}.score (id, candidate, value) VALUES (:id, 'cand-x', 100)"), {"id": intruder}
    )
    report = await book.chain.verify(session)
    assert sorted((f.reason, f.row_id, f.seq) for f in report.findings) == sorted(
        [(Reason.row_deleted, str(a), 1), (Reason.row_unrecorded, str(intruder), None)]
    )


async def test_an_append_in_a_rolled_back_transaction_leaves_nothing(engine: AsyncEngine):
    made = ledger()
    factory = sessionmaker(engine)
    async with factory() as session, session.begin():
        await made.create(session)
    try:
        async with factory() as session, session.begin():
            await made.enter(session, "cand-a", "60")
        async with factory() as session:
            async with session.begin():
                await made.enter(session, "cand-b", "70")
                assert (await made.chain.head(session)).seq == 2
                await session.rollback()
        async with factory() as session, session.begin():
            assert (await made.chain.head(session)).seq == 1
            assert (await session.execute(select(made.score.c.candidate))).scalars().all() == ["cand-a"]
            await made.enter(session, "cand-c", "80")
        async with factory() as session:
            report = await made.chain.verify(session)
        assert (report.ok, report.entries, report.head_seq) == (True, 2, 2)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{made.schema}" CASCADE'))


async def test_twenty_concurrent_appenders_make_one_gapless_chain(database_url: str):
    made = ledger()
    engine = create_engine(database_url, pool_size=21, max_overflow=0)
    factory = sessionmaker(engine)
    start = asyncio.Event()

    async def appender(n: int) -> None:
        await start.wait()
        for k in range(5):
            async with factory() as session, session.begin():
                await made.enter(session, f"cand-{n}-{k}", str(50 + k), actor=f"expert-{n}")

    try:
        async with factory() as session, session.begin():
            await made.create(session)
        tasks = [asyncio.create_task(appender(n)) for n in range(20)]
        await asyncio.sleep(0.05)
        start.set()
        await asyncio.gather(*tasks)
        async with factory() as session:
            seqs = (await session.execute(select(made.chain.table.c.seq).order_by(made.chain.table.c.seq))).scalars().all()
            actors = (await session.execute(select(made.chain.table.c.actor))).scalars().all()
            report = await made.chain.verify(session, batch=17)
        assert seqs == list(range(1, 101))
        assert (report.ok, report.entries, report.rows, report.findings) == (True, 100, 100, [])
        assert sorted(actors) == sorted(f"expert-{n}" for n in range(20) for _ in range(5))
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{made.schema}" CASCADE'))
        await engine.dispose()


async def test_a_bulk_upload_is_recorded_in_one_append(book: Ledger, session: AsyncSession):
    ids = [uuid.uuid4() for _ in range(3000)]
    await session.execute(book.score.insert(), [{"id": i, "candidate": f"c{n}", "value": Decimal(n % 100)} for n, i in enumerate(ids)])
    changes = [Change("score.uploaded", "staff-1", book.score, i, {"file_sha256": "ab" * 32}) for i in ids]
    entries = await book.chain.append_many(session, changes)
    assert [e.seq for e in entries] == list(range(1, 3001))
    assert entries[5].state == {"candidate": "c5", "value": "5"}
    report = await book.chain.verify(session, batch=640)
    assert (report.ok, report.entries, report.rows) == (True, 3000, 3000)


async def test_findings_are_bounded_and_counted(book: Ledger, session: AsyncSession):
    for n in range(8):
        await book.enter(session, f"cand-{n}", str(n))
    await session.execute(book.sql("UPDATE {s}.score SET value = value + 1"))
    report = await book.chain.verify(session, max_findings=3)
    assert (len(report.findings), report.findings_total) == (3, 8)
    assert {f.reason for f in report.findings} == {Reason.row_altered}


def test_the_hash_of_an_entry_is_sha256_of_the_canonical_bytes_written_out():
    fields = dict(
        seq=7,
        at=datetime(2026, 6, 1, 8, 30, tzinfo=UTC),
        kind="score.entered",
        subject_table="score",
        subject_id=str(uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e")),
        actor="expert:张明",
        state={"value": Decimal("81.50"), "candidate": uuid.UUID("7C9E6679-7425-40DE-944B-E07FC1F90AE7")},
        payload={"weights": [Decimal("0.30"), 0.7, 1], "reason": None, "final": True},
        prev_hash="a" * 64,
    )
    written_out = (
        '{"actor":"expert:张明","at":"2026-06-01T08:30:00.000000Z","kind":"score.entered",'
        '"payload":{"final":true,"reason":null,"weights":["0.3","0.7",1]},'
        '"prev_hash":"' + "a" * 64 + '","seq":7,'
        '"state":{"candidate":"7c9e6679-7425-40de-944b-e07fc1f90ae7","value":"81.5"},'
        '"subject_id":"0f8fad5b-d9cb-469f-a165-70867728950e","subject_table":"score"}'
    ).encode("utf-8")
    assert canonical_json(fields) == written_out
    assert entry_hash(**fields) == hashlib.sha256(written_out).hexdigest() == "0f96db6831f32107009b129d81df69da8a9f85bd00bec3987b13d967aef5a20d"


@pytest.mark.parametrize(
    "value, fixed",
    [
        (Decimal("7.50"), "7.5"), (Decimal("100"), "100"), (Decimal("1E+2"), "100"), (Decimal("-0.00"), "0"),
        (Decimal("0.000001"), "0.000001"), (1e20, "100000000000000000000"), (0.1, "0.1"), (-2.5, "-2.5"),
        (datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "2026-01-02T03:04:05.000006Z"),
        (Reason.gap, "gap"), (12345678901234567890, 12345678901234567890),
    ],
)
def test_each_value_has_one_fixed_form(value, fixed):
    assert canonical(value) == fixed


@pytest.mark.parametrize("value", [float("nan"), Decimal("Infinity"), datetime(2026, 1, 1), {1: "x"}, {"a"}, b"x"])
def test_values_without_one_fixed_form_are_refused(value):
    with pytest.raises((TypeError, ValueError)):
        canonical(value)



async def test_the_migration_steps_create_the_table_as_declared_and_drop_it(session: AsyncSession):
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect

    from shared.chain import create_chain_table, drop_chain_table

    made = ledger()
    await session.execute(text(f'CREATE SCHEMA "{made.schema}"'))

    def migrate(sync) -> tuple[list[str], list[str]]:
        conn = sync.connection()
        with Operations.context(MigrationContext.configure(conn)):
            create_chain_table(made.schema)
            columns = [c["name"] for c in inspect(conn).get_columns("record_chain", schema=made.schema)]
            indexes = [i["name"] for i in inspect(conn).get_indexes("record_chain", schema=made.schema)]
            drop_chain_table(made.schema)
        return columns, indexes

    columns, indexes = await session.run_sync(migrate)
    assert columns == [c.name for c in made.chain.table.columns]
    assert sorted(indexes) == ["ix_record_chain_subject", "uq_record_chain_hash"]
