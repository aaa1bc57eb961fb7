"""A frontend retries a create with the same Idempotency-Key and never creates twice.

These run against the sample service with real commits (its own engine), since what is
under test is exactly what commits and what does not, and with real tokens from a real
gateway (the sample service verifies them against its JWKS, as every service does).
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from services.gateway.app import create_app as gateway_app
from shared import clock
from shared.clock import FrozenClock, use_clock
from shared.idempotency import purge_expired
from tests.conftest import running_app
from tests.identity.tokens import bearer
from tests.platform.conftest import Running, assert_problem, sample_settings
from tests.platform.sample_service.app import create_app as sample_app
from tests.servers import serve
from tests.tokens.support import gateway_settings

REPLAYED = "idempotent-replayed"


@pytest.fixture(scope="module")
async def issuer(database_url) -> AsyncIterator[tuple[object, str]]:
    """A real gateway: it signs the tokens and publishes the keys the sample service verifies them with."""
    app = gateway_app(gateway_settings(database_url))
    async with serve(app) as url:
        yield app, url


@pytest.fixture
async def sample_committed(sample_database_url, issuer) -> AsyncIterator[Running]:
    """The sample service with its own engine (every request commits for real), trusting the gateway's tokens."""
    app = sample_app(sample_settings(sample_database_url, gateway_url=issuer[1]))
    async with running_app(app) as client:
        yield Running(app, client)


@pytest.fixture
async def staff(issuer) -> dict[str, str]:
    """A staff member's Authorization header, and with it an Idempotency-Key's owner."""
    return await bearer(issuer[0], roles=["staff"])


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
                "SELECT principal, method, path, status_code, response_body, response_headers, created_at"
                " FROM platform_sample.idempotency_key WHERE key = :k ORDER BY principal"
            ),
            {"k": key},
        )
        return result.all()


def principal_of(headers: dict[str, str]) -> str:
    from tests.tokens.support import unverified_parts

    _, claims, _ = unverified_parts(headers["Authorization"].removeprefix("Bearer "))
    return f"{claims['kind']}:{claims['sub']}"


async def test_a_retry_with_the_same_key_replays_the_first_answer_and_creates_nothing(sample_committed, engine, staff):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    first = await client.post("/widgets", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers

    again = await client.post("/widgets", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})
    assert again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert again.headers["content-type"] == "application/json"
    assert again.json() == first.json()
    assert await widgets_in(engine, batch) == 1

    (row,) = await key_rows(engine, key)
    assert (row.principal, row.method, row.path, row.status_code) == (principal_of(staff), "POST", "/widgets", 201)
    assert row.response_body == first.json()


async def test_the_same_json_written_differently_is_the_same_request(sample_committed, engine, staff):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    first = await client.post(
        "/widgets", content=f'{{"batch": "{batch}", "name": "lens", "rank": 1}}',
        headers={**staff, "Idempotency-Key": key, "content-type": "application/json"},
    )
    again = await client.post(
        "/widgets", content=f'{{"rank":1,"name":"lens","batch":"{batch}"}}',
        headers={**staff, "Idempotency-Key": key, "content-type": "application/json"},
    )
    assert first.status_code == again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert await widgets_in(engine, batch) == 1


async def test_the_same_key_with_a_different_request_is_422_and_creates_nothing(sample_committed, engine, staff):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    assert (await client.post("/widgets", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})).status_code == 201

    other_body = await client.post("/widgets", json=widget_body(batch, rank=4), headers={**staff, "Idempotency-Key": key})
    assert_problem(other_body, 422, "idempotency_key_reused")
    other_query = await client.post("/widgets?notify=1", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})
    assert_problem(other_query, 422, "idempotency_key_reused")
    other_route = await client.post(
        "/failures/forgets-to-save", json=widget_body(batch), headers={**staff, "Idempotency-Key": key}
    )
    assert_problem(other_route, 422, "idempotency_key_reused")
    assert await widgets_in(engine, batch) == 1


async def test_two_concurrent_requests_with_the_same_key_create_exactly_one_row(sample_committed, engine, staff):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    # Each holds its transaction open a moment, so the second arrives while the first has
    # claimed the key but not committed: it must wait for the first, then replay it.
    body = widget_body(batch, hold_seconds=0.3)
    a, b = await asyncio.gather(
        client.post("/widgets", json=body, headers={**staff, "Idempotency-Key": key}),
        client.post("/widgets", json=body, headers={**staff, "Idempotency-Key": key}),
    )
    assert a.status_code == b.status_code == 201, (a.text, b.text)
    assert a.json() == b.json()
    assert sorted(r.headers.get(REPLAYED, "-") for r in (a, b)) == ["-", "true"]
    assert await widgets_in(engine, batch) == 1
    assert len(await key_rows(engine, key)) == 1


async def test_a_create_that_fails_leaves_no_key_so_its_retry_runs(sample_committed, engine, staff):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    sample_committed.app.state.failing_creates = 1
    failed = await client.post("/widgets", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})
    assert_problem(failed, 500, "internal_error")
    assert await key_rows(engine, key) == []
    assert await widgets_in(engine, batch) == 0

    retry = await client.post("/widgets", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})
    assert retry.status_code == 201, retry.text
    assert REPLAYED not in retry.headers
    assert await widgets_in(engine, batch) == 1
    assert len(await key_rows(engine, key)) == 1


async def test_an_invalid_request_leaves_no_key_either(sample_committed, engine, staff):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    bad = await client.post("/widgets", json=widget_body(batch, rank=-5), headers={**staff, "Idempotency-Key": key})
    assert_problem(bad, 422, "validation_failed")
    assert await key_rows(engine, key) == []
    good = await client.post("/widgets", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})
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
async def test_a_malformed_key_is_refused(sample_committed, engine, staff, bad_key, status, code):
    batch = uuid.uuid4()
    r = await sample_committed.client.post(
        "/widgets", json=widget_body(batch), headers=[(b"idempotency-key", bad_key.encode()), (b"authorization", staff["Authorization"].encode())]
    )
    assert_problem(r, status, code)
    assert await widgets_in(engine, batch) == 0


async def test_the_longest_valid_key_works(sample_committed, engine, staff):
    batch, key = uuid.uuid4(), "k-" + "x" * 253
    r = await sample_committed.client.post("/widgets", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})
    assert r.status_code == 201
    assert len(await key_rows(engine, key)) == 1


async def test_without_a_key_every_post_creates(sample_committed, engine, staff):
    batch = uuid.uuid4()
    for _ in range(2):
        r = await sample_committed.client.post("/widgets", json=widget_body(batch))
        assert r.status_code == 201 and REPLAYED not in r.headers
    assert await widgets_in(engine, batch) == 2


async def test_keys_belong_to_their_caller(sample_committed, engine, issuer):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    callers = [await bearer(issuer[0], roles=["coordinator"]) for _ in range(2)]
    for caller in callers:
        r = await client.post("/widgets", json=widget_body(batch), headers={**caller, "Idempotency-Key": key})
        assert r.status_code == 201 and REPLAYED not in r.headers
    assert await widgets_in(engine, batch) == 2
    assert [row.principal for row in await key_rows(engine, key)] == sorted(principal_of(c) for c in callers)


async def test_the_owner_is_the_verified_caller_even_when_the_key_is_read_before_the_access_rule(sample_committed, engine, issuer):
    # /owned-widgets declares its access rule after the key, so FastAPI resolves the key first.
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    lin, wang = await bearer(issuer[0], roles=["staff"]), await bearer(issuer[0], roles=["staff"])
    mine = await client.post("/owned-widgets", json=widget_body(batch), headers={**lin, "Idempotency-Key": key})
    theirs = await client.post("/owned-widgets", json=widget_body(batch), headers={**wang, "Idempotency-Key": key})
    assert mine.status_code == theirs.status_code == 201, (mine.text, theirs.text)
    # Wang is not answered with Lin's widget (what a shared key space would replay).
    assert REPLAYED not in theirs.headers
    assert theirs.json()["name"].endswith(principal_of(wang).removeprefix("user:"))
    assert await widgets_in(engine, batch) == 2
    # No token, or a role the rule refuses: refused, and no key is left behind.
    assert_problem(await client.post("/owned-widgets", json=widget_body(batch), headers={"Idempotency-Key": key}), 401, "not_authenticated")
    student = await bearer(issuer[0], roles=["student"])
    assert_problem(
        await client.post("/owned-widgets", json=widget_body(batch), headers={**student, "Idempotency-Key": key}), 403, "forbidden"
    )
    assert len(await key_rows(engine, key)) == 2


async def test_a_key_on_a_public_create_without_a_token_is_refused_as_it_would_have_no_owner(sample_committed, engine, staff):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    r = await client.post("/widgets", json=widget_body(batch), headers={"Idempotency-Key": key})
    assert_problem(r, 400, "idempotency_key_anonymous")
    forged = await client.post("/widgets", json=widget_body(batch), headers={"Idempotency-Key": key, "Authorization": "Bearer not.a.token"})
    assert_problem(forged, 401, "invalid_token")
    assert await widgets_in(engine, batch) == 0 and await key_rows(engine, key) == []
    # Without a key anyone may still create; with their token, the key is theirs.
    assert (await client.post("/widgets", json=widget_body(batch))).status_code == 201
    assert (await client.post("/widgets", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})).status_code == 201


async def test_a_replay_repeats_the_first_answers_location_and_etag(sample_committed, engine, staff):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    first = await client.post("/owned-widgets", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})
    again = await client.post("/owned-widgets", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.headers[REPLAYED] == "true"
    assert first.headers["location"] == f"/widgets/{first.json()['id']}"
    assert (again.headers["location"], again.headers["etag"]) == (first.headers["location"], first.headers["etag"])
    assert again.json() == first.json()


async def test_a_key_and_its_answer_are_forgotten_after_the_retention(sample_committed, engine, staff):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    later = FrozenClock()
    with use_clock(later):
        assert (await client.post("/widgets", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})).status_code == 201
        later.advance(hours=23, minutes=59)
        again = await client.post("/widgets", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})
        assert again.headers.get(REPLAYED) == "true"
        # A day on, the same key is a new request, even before the purge has run.
        later.advance(minutes=2)
        fresh = await client.post("/widgets", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})
        assert fresh.status_code == 201 and REPLAYED not in fresh.headers
        assert await widgets_in(engine, batch) == 2
        (row,) = await key_rows(engine, key)
        assert row.created_at == later.now()

        table = sample_committed.app.state.idempotency_table
        await purge_expired(engine, table, before=later.now() - timedelta(hours=24))
        assert len(await key_rows(engine, key)) == 1
        later.advance(hours=25)
        assert await purge_expired(engine, table, before=later.now() - timedelta(hours=24)) >= 1
    assert await key_rows(engine, key) == []


async def test_every_service_app_purges_expired_keys_by_itself(sample_database_url, issuer, engine):
    key = f"stale-{uuid.uuid4()}"
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO platform_sample.idempotency_key (principal, key, method, path, request_hash, status_code,"
                " response_body, created_at) VALUES ('user:someone', :k, 'POST', '/widgets', 'x', 201,"
                " '{\"name\": \"Lin Wei\", \"born\": \"2013-04-01\"}', :at)"
            ),
            {"k": key, "at": clock.now() - timedelta(hours=25)},
        )
    app = sample_app(sample_settings(sample_database_url, gateway_url=issuer[1]))
    async with running_app(app), asyncio.timeout(30):
        while await key_rows(engine, key):
            await asyncio.sleep(0.05)


async def test_an_endpoint_that_never_saves_its_answer_fails_loudly_and_keeps_nothing(sample_committed, engine, staff):
    client, batch, key = sample_committed.client, uuid.uuid4(), str(uuid.uuid4())
    r = await client.post("/failures/forgets-to-save", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})
    assert_problem(r, 500, "internal_error")
    assert await key_rows(engine, key) == []
    assert await widgets_in(engine, batch) == 0
    # Without a key the same endpoint works: nothing needed saving.
    assert (await client.post("/failures/forgets-to-save", json=widget_body(batch))).status_code == 201


async def test_a_replay_inside_one_transaction_works_too(sample_database_url, issuer, session, staff):
    """The rollback-per-test session (what most service tests use) supports keys as well."""
    batch, key = uuid.uuid4(), str(uuid.uuid4())
    app = sample_app(sample_settings(sample_database_url, gateway_url=issuer[1]))
    async with running_app(app, session) as sample:
        first = await sample.post("/widgets", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})
        again = await sample.post("/widgets", json=widget_body(batch), headers={**staff, "Idempotency-Key": key})
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
    assert "idempotency_key_anonymous" in op["responses"]["400"]["description"]
    assert "idempotency_key_reused" in op["responses"]["422"]["description"]
