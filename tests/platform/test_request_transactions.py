"""What a request costs the database and what it leaves there (shared/db.py): a read sends no BEGIN or
COMMIT, anything written commits, and a pooled connection whose server went away costs one request."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, select, text

from services.gateway.app import create_app as gateway_app
from services.gateway.identity.models import PiiAccessLog
from shared.db import begin_at_first_write, sessionmaker
from tests.conftest import running_app
from tests.identity.tokens import bearer
from tests.limits.support import committed_student
from tests.platform.conftest import Running, sample_settings
from tests.platform.sample_service.app import Widget, create_app as sample_app
from tests.tokens.support import gateway_settings

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


class SentStatements:
    """The simple-protocol statements asyncpg sends on the app's pooled connections: BEGIN, COMMIT, ROLLBACK."""

    def __init__(self, engine) -> None:
        self.sent: list[str] = []
        event.listen(engine.sync_engine, "checkout", self._watch)

    def _watch(self, dbapi_connection, record, proxy) -> None:
        if "test_logger" not in record.info:
            dbapi_connection.driver_connection.add_query_logger(lambda q: self.sent.append(q.query.strip()))
            record.info["test_logger"] = True

    def transaction_control(self) -> list[str]:
        words = [q.split()[0].rstrip(";").upper() for q in self.sent if q]
        return [w for w in words if w in TRANSACTION_CONTROL]


@pytest.fixture
async def sample(sample_database_url) -> AsyncIterator[Running]:
    app = sample_app(sample_settings(sample_database_url))
    async with running_app(app) as client:
        yield Running(app, client)


async def test_a_request_that_only_reads_sends_no_begin_and_no_commit_and_a_create_sends_both(sample):
    created = await sample.client.post("/widgets", json={"batch": str(uuid.uuid4()), "name": "lens", "rank": 1})
    assert created.status_code == 201
    statements = SentStatements(sample.app.state.engine)

    read = await sample.client.get(f"/widgets/{created.json()['id']}")
    assert read.status_code == 200 and read.json()["name"] == "lens"
    listed = await sample.client.get("/widgets", params={"batch": created.json()["batch"]})
    assert [w["id"] for w in listed.json()["items"]] == [created.json()["id"]]
    assert statements.transaction_control() == []

    again = await sample.client.post("/widgets", json={"batch": str(uuid.uuid4()), "name": "prism", "rank": 2})
    assert again.status_code == 201
    assert statements.transaction_control() == ["BEGIN", "COMMIT"]


async def test_a_request_that_fails_after_writing_keeps_nothing(sample, engine):
    batch = uuid.uuid4()
    sample.app.state.failing_creates = 1
    failed = await sample.client.post("/widgets", json={"batch": str(batch), "name": "lens", "rank": 1})
    assert failed.status_code == 500
    async with engine.connect() as conn:
        left = await conn.scalar(text("SELECT count(*) FROM platform_sample.widget WHERE batch = :b"), {"b": batch})
    assert left == 0


async def test_a_read_of_unmasked_data_commits_its_access_log_line_though_it_is_a_get(database_url, engine):
    app = gateway_app(gateway_settings(database_url))
    async with committed_student(engine, phone="13912345678") as student:
        async with running_app(app) as client:
            statements = SentStatements(app.state.engine)
            h = await bearer(app, roles=["admin"])
            masked = await client.get(f"/identity/users/{student.id}", headers=h)
            assert masked.status_code == 200 and "*" in masked.json()["phone"]
            assert statements.transaction_control() == []
            shown = await client.get(
                f"/identity/users/{student.id}?reveal=phone", headers={**h, "X-Access-Reason": "calling the family"}
            )
            assert shown.status_code == 200 and shown.json()["phone"] == "13912345678"
            assert statements.transaction_control() == ["BEGIN", "COMMIT"]
        async with sessionmaker(engine)() as s:
            logged = (await s.scalars(select(PiiAccessLog).where(PiiAccessLog.student_id == student.id))).all()
        assert [(row.fields, row.reason) for row in logged] == [(["phone"], "calling the family")]


async def test_a_row_lock_taken_by_a_read_holds_until_the_request_ends(sample):
    """SELECT ... FOR UPDATE begins the transaction first: a lock taken outside one would end at once."""
    statements = SentStatements(sample.app.state.engine)
    async with sample.app.state.sessionmaker() as session:
        begin_at_first_write(session)
        await session.execute(select(Widget.id).limit(1))
        assert statements.transaction_control() == []
        await session.execute(select(Widget.id).limit(1).with_for_update())
        assert statements.transaction_control() == ["BEGIN"]
        await session.commit()
    assert statements.transaction_control() == ["BEGIN", "COMMIT"]
    # The connection went back to the pool able to begin transactions for its next user.
    async with sample.app.state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        await conn.rollback()
    assert statements.transaction_control() == ["BEGIN", "COMMIT", "BEGIN", "ROLLBACK"]


async def test_pooled_connections_whose_backends_were_terminated_cost_at_most_one_request(sample_database_url, engine):
    app = sample_app(sample_settings(sample_database_url, database_pool_size=4, database_max_overflow=0))
    async with running_app(app) as client:
        created = await client.post("/widgets", json={"batch": str(uuid.uuid4()), "name": "lens", "rank": 1})
        assert created.status_code == 201
        # Fill the pool: four connections, each checked out at once, then back in the pool.
        pooled = app.state.engine
        conns = [await pooled.connect() for _ in range(4)]
        pids = [await c.scalar(text("SELECT pg_backend_pid()")) for c in conns]
        for c in conns:
            await c.close()
        async with engine.connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) AS pid"), {"pids": pids})
            await admin.commit()
            async with asyncio.timeout(30):
                while await admin.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(CAST(:pids AS int[]))"), {"pids": pids}
                ):
                    await admin.rollback()
                    await asyncio.sleep(0.02)
        answers = [(await client.get(f"/widgets/{created.json()['id']}")).status_code for _ in range(8)]
    assert answers.count(500) <= 1, answers
    assert set(answers) <= {200, 500} and answers[-1] == 200, answers
