"""A frontend that sends something wrong always gets a problem+json it can act on, never a 500."""

import json
import uuid

import httpx

from tests.platform.conftest import SAMPLE_MAX_BYTES, assert_problem, sample_settings, serving
from tests.platform.sample_service.app import create_app


async def test_an_unknown_route_is_404_not_found(service):
    r = await service.get("/no/such/thing")
    body = assert_problem(r, 404, "not_found")
    assert body["instance"] == "/no/such/thing"
    assert "/no/such/thing" in body["detail"]


async def test_a_wrong_method_is_405_with_the_allowed_methods(service):
    r = await service.delete("/healthz")
    body = assert_problem(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET"
    assert "DELETE" in body["detail"] and "GET" in body["detail"]


async def test_a_body_over_the_limit_is_413_by_its_content_length(service):
    limit = 1_048_576  # the default SPROUT_REQUEST_MAX_BYTES
    r = await service.post("/healthz", content=b"x" * (limit + 1), headers={"content-type": "application/json"})
    body = assert_problem(r, 413, "payload_too_large")
    assert str(limit) in body["detail"]


async def test_a_content_length_that_is_not_a_number_is_refused_as_too_large(service):
    headers = {"content-type": "application/json", "content-length": "12abc"}
    r = await service.post("/healthz", content=b"{}", headers=headers)
    assert_problem(r, 413, "payload_too_large")


async def test_a_body_of_another_content_type_is_415(service):
    r = await service.post("/healthz", content=b"name=x", headers={"content-type": "text/plain; charset=utf-8"})
    body = assert_problem(r, 415, "unsupported_media_type")
    assert "text/plain" in body["detail"]


async def test_json_and_json_suffixed_types_pass_the_content_type_check(sample):
    for ctype in ("application/json", "application/json; charset=utf-8", "application/merge-patch+json"):
        r = await sample.post("/widgets", content=b"{}", headers={"content-type": ctype})
        assert r.status_code == 422, (ctype, r.text)


async def test_malformed_json_is_400_malformed_json(sample):
    r = await sample.post("/widgets", content=b'{"name": "a",', headers={"content-type": "application/json"})
    body = assert_problem(r, 400, "malformed_json")
    assert body["instance"] == "/widgets"


async def test_a_chunked_body_over_the_limit_is_413_while_it_streams(sample):
    sent = 0

    async def chunks():
        nonlocal sent
        for _ in range(4):
            sent += 1500
            yield b" " * 1500

    r = await sample.post("/widgets", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert r.request.headers["transfer-encoding"] == "chunked"
    body = assert_problem(r, 413, "payload_too_large")
    assert str(SAMPLE_MAX_BYTES) in body["detail"]
    assert sent > SAMPLE_MAX_BYTES


async def test_a_chunked_body_over_the_limit_is_413_over_a_real_socket(sample_database_url):
    """The same through uvicorn and a TCP connection, where chunked encoding is real."""

    async def chunks():
        for _ in range(3):
            yield b" " * 2000

    async with serving(create_app(sample_settings(sample_database_url))) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            r = await client.post("/widgets", content=chunks(), headers={"content-type": "application/json"})
            assert "content-length" not in r.request.headers
            assert_problem(r, 413, "payload_too_large")
            # The connection's server is fine afterwards.
            assert (await client.get("/healthz")).status_code == 200


async def test_field_errors_are_422_listing_each_field(sample):
    r = await sample.post("/widgets", json={"batch": "not-a-uuid", "name": "", "rank": -1})
    body = assert_problem(r, 422, "validation_failed")
    by_field = {e["field"]: e for e in body["errors"]}
    assert set(by_field) == {"batch", "name", "rank"}
    for field, e in by_field.items():
        assert e["loc"] == ["body", field]
        assert e["message"] and e["type"]
    assert by_field["rank"]["type"] == "greater_than_equal"
    assert "3" in body["detail"]


async def test_missing_fields_and_bad_query_parameters_are_listed_too(sample):
    r = await sample.post("/widgets", json={})
    body = assert_problem(r, 422, "validation_failed")
    missing = {(e["field"], e["type"]) for e in body["errors"]}
    assert missing == {("batch", "missing"), ("name", "missing"), ("rank", "missing")}

    r = await sample.get("/widgets", params={"batch": "x", "limit": "0", "order": "sideways"})
    body = assert_problem(r, 422, "validation_failed")
    assert {tuple(e["loc"]) for e in body["errors"]} == {("query", "batch"), ("query", "limit"), ("query", "order")}


async def test_a_json_body_of_the_wrong_shape_is_422_not_500(sample):
    wrong = [[], None, "text", 12, {"batch": str(uuid.uuid4()), "name": ["a"], "rank": {"x": 1}}]
    for value in wrong:
        r = await sample.post("/widgets", content=json.dumps(value), headers={"content-type": "application/json"})
        assert_problem(r, 422, "validation_failed")
