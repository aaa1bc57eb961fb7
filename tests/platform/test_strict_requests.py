"""A request body means what its JSON says, and no text with NUL or an unpaired surrogate gets in.

A small service built with `create_service_app`, whose routes echo what they were given, so
each test shows exactly what a client's bytes became (or that they were refused whole).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

import httpx
import pytest
from fastapi import Header, Query
from pydantic import BaseModel, Field

from shared.app import create_service_app
from shared.auth import Public
from shared.routes import APIRouter
from shared.strict import RequestModel, Text
from tests.conftest import running_app, service_settings
from tests.platform.sample_service.app import SAMPLE_TREE, SampleSettings

PROBLEM = "application/problem+json"


class Level(StrEnum):
    primary = "primary"
    high = "high"


class Guardian(RequestModel):
    name: str = Field(min_length=1, max_length=50)
    phones: list[str] = []


class Pupil(RequestModel):
    id: uuid.UUID
    name: str = Field(max_length=100)
    grade: int = Field(ge=1, le=12)
    score: float = 0.0
    disabled: bool = False
    born: date | None = None
    seen_at: datetime | None = None
    level: Level = Level.primary
    guardians: list[Guardian] = []
    notes: dict[str, str] = {}


router = APIRouter(prefix="/pupils", dependencies=[Public])


@router.post("")
async def echo_pupil(body: Pupil) -> dict:
    return body.model_dump(mode="json")


@router.get("/{name}")
async def echo_params(
    name: str,
    district: Annotated[str | None, Query(max_length=100)] = None,
    reason: Annotated[Text | None, Header(alias="X-Reason")] = None,
) -> dict:
    return {"name": name, "district": district, "reason": reason}


@router.get("/{name}/typed")
async def echo_typed(
    name: str,
    active: bool | None = None,
    grade: Annotated[int | None, Query(ge=1, le=12)] = None,
    since: datetime | None = None,
    on: date | None = None,
    weights: Annotated[list[float], Query()] = [],  # noqa: B006
) -> dict:
    return {"active": active, "grade": grade, "since": since, "on": on, "weights": weights}


@pytest.fixture
async def app_client(sample_database_url: str):
    app = create_service_app(
        service_settings(SampleSettings, sample_database_url, events_enabled=False),
        title="strict", description="strict requests", routers=[router], migration_tree=SAMPLE_TREE,
    )
    async with running_app(app) as client:
        yield client


def pupil(**changes) -> dict:
    return {"id": str(uuid.uuid4()), "name": "林小雨", "grade": 7, **changes}


def assert_invalid(r: httpx.Response, *fields: str, kind: str | None = None) -> list[dict]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["code"] == "validation_failed"
    named = {e["field"] for e in body["errors"]}
    assert set(fields) <= named, body["errors"]
    if kind:
        assert {e["type"] for e in body["errors"] if e["field"] in fields} == {kind}, body["errors"]
    return body["errors"]


async def test_a_well_formed_body_is_read_as_sent(app_client):
    sent = pupil(
        score=3, disabled=True, born="2013-02-28", seen_at="2026-12-01T08:00:00+08:00", level="high",
        guardians=[{"name": "林建国", "phones": ["13800000000"]}], notes={"食物": "不吃花生"},
    )
    r = await app_client.post("/pupils", json=sent)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["disabled"] is True and got["score"] == 3.0 and got["born"] == "2013-02-28"
    assert got["level"] == "high" and got["guardians"][0]["phones"] == ["13800000000"]
    assert got["seen_at"] == "2026-12-01T08:00:00+08:00"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("disabled", 0),
        ("disabled", 1),
        ("disabled", "true"),
        ("disabled", "false"),
        ("grade", "7"),
        ("grade", 7.5),
        ("grade", True),
        ("score", "1.5"),
        ("name", 7),
        ("id", 12345),
        ("born", 0),
        ("born", 1_700_000_000),
        ("born", "2013-02-28T00:00:00"),
        ("seen_at", 1_700_000_000),
        ("level", "HIGH"),
        ("guardians", {"name": "x"}),
        ("notes", ["a"]),
    ],
)
async def test_a_value_of_another_json_type_is_refused_not_converted(app_client, field, value):
    assert_invalid(await app_client.post("/pupils", json=pupil(**{field: value})), field)


async def test_an_integral_number_is_an_integer_as_json_says(app_client):
    r = await app_client.post("/pupils", json=pupil(grade=7.0))
    assert r.status_code == 200 and r.json()["grade"] == 7


async def test_an_integral_number_out_of_range_is_refused_like_the_integer(app_client):
    assert_invalid(await app_client.post("/pupils", json=pupil(grade=13.0)), "grade")


async def test_nested_values_are_as_strict_as_top_level_ones(app_client):
    r = await app_client.post("/pupils", json=pupil(guardians=[{"name": "林建国", "phones": [13800000000]}]))
    assert_invalid(r, "guardians.0.phones.0")


async def test_unknown_fields_are_refused_at_any_depth(app_client):
    assert_invalid(await app_client.post("/pupils", json=pupil(is_admin=True)), "is_admin")
    assert_invalid(await app_client.post("/pupils", json=pupil(guardians=[{"name": "x", "role": "admin"}])), "guardians.0.role")


@pytest.mark.parametrize(
    "raw",
    [
        b'"a\\u0000b"',  # NUL, escaped
        b'"\\u0000"',
        b'"\\ud800"',  # a high surrogate alone
        b'"\\udc00x"',  # a low surrogate alone
        b'"\\ud83d\\u0041"',  # a high surrogate followed by no low one
    ],
    ids=["nul-inside", "nul-alone", "high-surrogate", "low-surrogate", "broken-pair"],
)
@pytest.mark.parametrize("where", ["name", "guardians.0.name", "guardians.0.phones.0", "notes.k"])
async def test_text_that_is_not_storable_is_refused_with_its_field_named(app_client, raw, where):
    template = {
        "name": b'{"id": "%s", "grade": 7, "name": RAW}',
        "guardians.0.name": b'{"id": "%s", "grade": 7, "name": "n", "guardians": [{"name": RAW}]}',
        "guardians.0.phones.0": b'{"id": "%s", "grade": 7, "name": "n", "guardians": [{"name": "g", "phones": [RAW]}]}',
        "notes.k": b'{"id": "%s", "grade": 7, "name": "n", "notes": {"k": RAW}}',
    }[where]
    body = template.replace(b"%s", str(uuid.uuid4()).encode()).replace(b"RAW", raw)
    r = await app_client.post("/pupils", content=body, headers={"content-type": "application/json"})
    errors = assert_invalid(r, where, kind="text_invalid")
    assert any("NUL" in e["message"] or "surrogate" in e["message"] for e in errors)


async def test_a_surrogate_written_as_raw_utf8_bytes_is_refused_as_text(app_client):
    body = b'{"id": "' + str(uuid.uuid4()).encode() + b'", "grade": 7, "name": "\xed\xa0\x80"}'
    r = await app_client.post("/pupils", content=body, headers={"content-type": "application/json"})
    assert_invalid(r, "name", kind="text_invalid")


async def test_an_unpaired_surrogate_in_a_key_is_refused_too(app_client):
    body = b'{"id": "' + str(uuid.uuid4()).encode() + b'", "grade": 7, "name": "n", "notes": {"\\ud800": "v"}}'
    r = await app_client.post("/pupils", content=body, headers={"content-type": "application/json"})
    assert_invalid(r, "notes.<key>", kind="text_invalid")


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"id": }', b"\xff\xfe{}", b'{"name": "\xff"}', b"[" * 10_000, b'{"a": 1} {"b": 2}'],
    ids=["truncated", "no-value", "not-utf8", "not-utf8-in-a-string", "deep", "two-documents"],
)
async def test_malformed_json_is_a_400_problem_whatever_the_bytes(app_client, body):
    r = await app_client.post("/pupils", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["code"] == "malformed_json"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
async def test_a_json_route_refuses_a_body_of_another_type(app_client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    r = await app_client.post("/pupils", content=b'{"name": "x"}', headers=headers)
    assert r.status_code == 415, r.text
    assert r.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "path",
    ["/pupils/a%00b", "/pupils/x?district=a%00b", "/pupils/x?district=ok&district=%00", "/pupils/x?district=%ED%A0%80%00"],
)
async def test_nul_in_a_path_or_query_parameter_is_refused(app_client, path):
    r = await app_client.get(path)
    errors = assert_invalid(r)
    assert {e["type"] for e in errors} == {"text_invalid"}
    assert errors[0]["loc"][0] in ("path", "query")


async def test_a_parameter_the_route_does_not_declare_is_ignored_as_fastapi_ignores_it(app_client):
    r = await app_client.get("/pupils/x?other=%00")
    assert r.status_code == 200 and r.json()["district"] is None


async def test_a_header_a_route_decodes_is_checked_by_the_same_rule(app_client):
    ok = await app_client.get("/pupils/x", headers={"X-Reason": "checking grades"})
    assert ok.status_code == 200 and ok.json()["reason"] == "checking grades"
    # Raw NUL cannot travel in an HTTP header; a value decoded from one (percent-escapes,
    # base64) can, which is what `Text` guards. Validate the type directly as a route does.
    from pydantic import TypeAdapter, ValidationError

    adapter = TypeAdapter(Text)
    with pytest.raises(ValidationError) as caught:
        adapter.validate_python("why\x00")
    assert caught.value.errors()[0]["type"] == "text_invalid"
    with pytest.raises(ValidationError):
        adapter.validate_python("\ud800")
    assert adapter.validate_python("理由 ok") == "理由 ok"


async def test_query_and_path_text_of_any_language_passes(app_client):
    r = await app_client.get("/pupils/%E6%9E%97?district=%E6%80%9D%E6%98%8E%E5%8C%BA")
    assert r.status_code == 200
    assert r.json() == {"name": "林", "district": "思明区", "reason": None}


async def test_typed_parameters_spelled_as_in_json_are_read(app_client):
    r = await app_client.get(
        "/pupils/x/typed",
        params={"active": "false", "grade": "7", "since": "2026-12-01T08:00:00+08:00", "on": "2026-12-01", "weights": ["1.5", "-2", "3e2"]},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"active": False, "grade": 7, "since": "2026-12-01T08:00:00+08:00", "on": "2026-12-01", "weights": [1.5, -2.0, 300.0]}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("active", "yes"), ("active", "1"), ("active", "on"), ("active", "True"),
        ("grade", "7.0"), ("grade", "07"), ("grade", " 7"), ("grade", "1e1"),
        ("since", "0"), ("since", "1700000000"), ("since", "2026-12-01"),
        ("on", "0"), ("on", "2026-12-01T00:00:00"),
        ("weights", "nan"), ("weights", "inf"), ("weights", "1,5"),
    ],
)
async def test_a_typed_parameter_in_another_spelling_is_refused_not_guessed(app_client, name, value):
    r = await app_client.get("/pupils/x/typed", params={name: value})
    errors = assert_invalid(r, name)
    assert errors[0]["loc"] == ["query", name]


class Loose(BaseModel):
    """A body model that is not a RequestModel: FastAPI alone would take `"disabled": 0`."""

    disabled: bool


def test_a_service_whose_route_would_read_leniently_does_not_start(database_url):
    import fastapi

    lenient = fastapi.APIRouter()

    @lenient.get("/plain", dependencies=[Public])
    async def plain() -> dict:
        return {}

    loose_body = APIRouter()

    @loose_body.post("/loose", dependencies=[Public])
    async def loose(body: Loose) -> dict:
        return {}

    for routers, why in (([lenient], "not a StrictRoute"), ([loose_body], "not one RequestModel")):
        with pytest.raises(TypeError, match=why):
            create_service_app(
                service_settings(SampleSettings, database_url, events_enabled=False),
                title="x", description="x", routers=routers, migration_tree=SAMPLE_TREE,
            )
