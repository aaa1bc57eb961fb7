"""A frontend retries a create with the same Idempotency-Key and never creates twice.

These run against the sample service with real commits (its own engine), since what is
under test is exactly what commits and what does not.
"""

import asyncio
import uuid

import pytest
from sqlalchemy import text

from tests.platform.conftest import assert_problem

REPLAYED = "idempotent-replayed"


def widget_body(batch: uuid.UUID, **extra) -> dict:
    return {"batch": str(batch), "name": "microscope", "rank": 3, **extra}


async def widgets_in(engine, batch: uuid.UUID) -> int:
    async with engine.connect() as conn:
        count = text("SELECT count(*) FROM platform_sample.widget WHERE batch = :b")
        return (await conn.execute(count, {"b": batch})).scalar_one()


async def key_rows(engine, key: str) -> list:
    async with engine.connect() as conn:
        result = await conn.execute(
            text(
                "SELECT principal, method, path, status_code, response_body FROM platform_sample.idempotency_key"
                " WHERE key = :k ORDER BY principal"
            ),
            {"k": key},
        )
        return result.all()


async def test_a_retry_with_the_same_key_replays_the_first_answer_and_creates_nothing(sample_committed, engine):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    first = await client.post("/widgets", json=widget_body(batch), headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers

    again = await client.post("/widgets", json=widget_body(batch), headers={"Idempotency-Key": key})
    assert again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.headers["content-type"] == "application/json"
    assert again.json() == first.json()
    assert await widgets_in(engine, batch) == 1

    (row,) = await key_rows(engine, key)
    assert (row.principal, row.method, row.path, row.status_code) == ("", "POST", "/widgets", 201)
    assert row.response_body == first.json()


async def test_the_same_json_written_differently_is_the_same_request(sample_committed, engine):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    first = await client.post(
        "/widgets", content=f'{{"batch": "{batch}", "name": "lens", "rank": 1}}',
        headers={"Idempotency-Key": key, "content-type": "application/json"},
    )
    again = await client.post(
        "/widgets", content=f'{{"rank":1,"name":"lens","batch":"{batch}"}}',
        headers={"Idempotency-Key": key, "content-type": "application/json"},
    )
    assert first.status_code == again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert await widgets_in(engine, batch) == 1


async def test_the_same_key_with_a_different_request_is_422_and_creates_nothing(sample_committed, engine):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    assert (await client.post("/widgets", json=widget_body(batch), headers={"Idempotency-Key": key})).status_code == 201

    other_body = await client.post("/widgets", json=widget_body(batch, rank=4), headers={"Idempotency-Key": key})
    assert_problem(other_body, 422, "idempotency_key_reused")
    other_query = await client.post("/widgets?notify=1", json=widget_body(batch), headers={"Idempotency-Key": key})
    assert_problem(other_query, 422, "idempotency_key_reused")
    other_route = await client.post(
        "/failures/forgets-to-save", json=widget_body(batch), headers={"Idempotency-Key": key}
    )
    assert_problem(other_route, 422, "idempotency_key_reused")
    assert await widgets_in(engine, batch) == 1


async def test_two_concurrent_requests_with_the_same_key_create_exactly_one_row(sample_committed, engine):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    # Each holds its transaction open a moment, so the second arrives while the first has
    # claimed the key but not committed: it must wait for the first, then replay it.
    body = widget_body(batch, hold_seconds=0.3)
    a, b = await asyncio.gather(
        client.post("/widgets", json=body, headers={"Idempotency-Key": key}),
        client.post("/widgets", json=body, headers={"Idempotency-Key": key}),
    )
    assert a.status_code == b.status_code == 201, (a.text, b.text)
    assert a.json() == b.json()
    assert sorted(r.headers.get(REPLAYED, "-") for r in (a, b)) == ["-", "true"]
    assert await widgets_in(engine, batch) == 1
    assert len(await key_rows(engine, key)) == 1


async def test_a_create_that_fails_leaves_no_key_so_its_retry_runs(sample_committed, engine):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    sample_committed.app.state.failing_creates = 1
    failed = await client.post("/widgets", json=widget_body(batch), headers={"Idempotency-Key": key})
    assert_problem(failed, 500, "internal_error")
    assert await key_rows(engine, key) == []
    assert await widgets_in(engine, batch) == 0

    retry = await client.post("/widgets", json=widget_body(batch), headers={"Idempotency-Key": key})
    assert retry.status_code == 201, retry.text
    assert REPLAYED not in retry.headers
    assert await widgets_in(engine, batch) == 1
    assert len(await key_rows(engine, key)) == 1


async def test_an_invalid_request_leaves_no_key_either(sample_committed, engine):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    bad = await client.post("/widgets", json=widget_body(batch, rank=-5), headers={"Idempotency-Key": key})
    assert_problem(bad, 422, "validation_failed")
    assert await key_rows(engine, key) == []
    good = await client.post("/widgets", json=widget_body(batch), headers={"Idempotency-Key": key})
    assert good.status_code == 201 and REPLAYED not in good.headers


@pytest.mark.parametrize(
    ("bad_key", "status", "code"),
    [
        ("", 400, "idempotency_key_invalid"),
        ("   ", 400, "idempotency_key_invalid"),
        ("k" * 256, 400, "idempotency_key_invalid"),
        ("ключ", 400, "idempotency_key_invalid"),
        ("tab\tkey", 400, "idempotency_key_invalid"),
        # NUL is refused for every header by the shared text rule (shared/strict.py).
        ("nul\x00", 422, "validation_failed"),
    ],
)
async def test_a_malformed_key_is_refused(sample_committed, engine, bad_key, status, code):
    batch = uuid.uuid4()
    r = await sample_committed.client.post(
        "/widgets", json=widget_body(batch), headers=[(b"idempotency-key", bad_key.encode())]
    )
    assert_problem(r, status, code)
    assert await widgets_in(engine, batch) == 0


async def test_the_longest_valid_key_works(sample_committed, engine):
    batch, key = uuid.uuid4(), "k-" + "x" * 253
    r = await sample_committed.client.post("/widgets", json=widget_body(batch), headers={"Idempotency-Key": key})
    assert r.status_code == 201
    assert len(await key_rows(engine, key)) == 1


async def test_without_a_key_every_post_creates(sample_committed, engine):
    batch = uuid.uuid4()
    for _ in range(2):
        r = await sample_committed.client.post("/widgets", json=widget_body(batch))
        assert r.status_code == 201 and REPLAYED not in r.headers
    assert await widgets_in(engine, batch) == 2


async def test_keys_belong_to_their_caller(sample_committed, engine):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    for principal in ("school-7", "school-9"):
        headers = {"Idempotency-Key": key, "X-Test-Principal": principal}
        r = await client.post("/widgets", json=widget_body(batch), headers=headers)
        assert r.status_code == 201 and REPLAYED not in r.headers
    assert await widgets_in(engine, batch) == 2
    assert [row.principal for row in await key_rows(engine, key)] == ["school-7", "school-9"]


async def test_an_endpoint_that_never_saves_its_answer_fails_loudly_and_keeps_nothing(sample_committed, engine):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    r = await client.post("/failures/forgets-to-save", json=widget_body(batch), headers={"Idempotency-Key": key})
    assert_problem(r, 500, "internal_error")
    assert await key_rows(engine, key) == []
    assert await widgets_in(engine, batch) == 0
    # Without a key the same endpoint works: nothing needed saving.
    assert (await client.post("/failures/forgets-to-save", json=widget_body(batch))).status_code == 201


async def test_a_replay_inside_one_transaction_works_too(sample, session):
    """The rollback-per-test session (what most service tests use) supports keys as well."""
    batch, key = uuid.uuid4(), str(uuid.uuid4())
    first = await sample.post("/widgets", json=widget_body(batch), headers={"Idempotency-Key": key})
    again = await sample.post("/widgets", json=widget_body(batch), headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.headers[REPLAYED] == "true" and again.json() == first.json()
    count = await session.execute(text("SELECT count(*) FROM platform_sample.widget WHERE batch = :b"), {"b": batch})
    assert count.scalar_one() == 1


async def test_the_create_documents_the_header_and_its_problems(sample):
    spec = (await sample.get("/openapi.json")).json()
    op = spec["paths"]["/widgets"]["post"]
    header = next(p for p in op["parameters"] if p["in"] == "header" and p["name"] == "Idempotency-Key")
    assert not header.get("required", False)
    assert "Idempotent-Replayed" in header["description"]
    assert "idempotency_key_invalid" in op["responses"]["400"]["description"]
    assert "idempotency_key_reused" in op["responses"]["422"]["description"]
