"""The gateway proxies /api/<service>/... to real services over real HTTP, faithfully and cheaply."""

from __future__ import annotations

import gzip
import time

import httpx
import pytest

from shared.tracing import new_traceparent, trace_id_of, valid_traceparent
from tests.gateway.conftest import EDGE_MAX_BYTES, EDGE_TIMEOUT

PROBLEM = "application/problem+json"


def assert_problem(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["code"] == code and body["status"] == status
    assert body["request_id"] == r.headers["x-request-id"]
    return body


def header(echo: dict, name: str) -> list[str]:
    return [v for k, v in echo["headers"] if k == name]


# ---------------------------------------------------------------- the real services


@pytest.mark.parametrize("name", ["selection", "mentoring", "courses", "tracking"])
async def test_every_real_service_answers_through_the_gateway(gateway, client, name):
    r = await client.get(f"{gateway}/api/{name}/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "service": name}
    r = await client.get(f"{gateway}/api/{name}/readyz")
    assert r.status_code == 200 and r.json()["checks"]["database"] == "ok"


async def test_a_problem_from_the_service_comes_back_as_it_was(gateway, client):
    r = await client.get(f"{gateway}/api/courses/no/such/thing", headers={"Accept-Language": "zh-CN"})
    body = assert_problem(r, 404, "not_found")
    # The service's own problem: its path, in the caller's language.
    assert body["instance"] == "/no/such/thing"
    assert body["title"] == "未找到"


async def test_the_request_id_is_forwarded_and_echoed_once(gateway, client):
    r = await client.get(f"{gateway}/api/courses/nothing-here", headers={"X-Request-ID": "case-42.a"})
    assert r.headers.get_list("x-request-id") == ["case-42.a"]
    # The service put the id it received into its problem body.
    assert r.json()["request_id"] == "case-42.a"


async def test_the_gateway_makes_a_request_id_when_none_is_sent_and_the_service_gets_it(gateway, client):
    r = await client.get(f"{gateway}/api/courses/nothing-here")
    rid = r.headers["x-request-id"]
    assert len(rid) == 32
    assert r.json()["request_id"] == rid


async def test_the_service_sees_the_callers_trace(gateway, client, captured):
    sent = new_traceparent()
    await client.get(f"{gateway}/api/courses/traced", headers={"traceparent": sent})
    # The service's access line is logged in the service's request context.
    [(_, _, seen)] = captured.access("/traced")
    assert trace_id_of(seen) == trace_id_of(sent)


async def test_a_request_without_a_trace_starts_one_the_service_sees(gateway, client, captured):
    await client.get(f"{gateway}/api/courses/untraced", headers={"X-Request-ID": "untraced-1"})
    [(_, rid, seen)] = captured.access("/untraced")
    assert rid == "untraced-1"
    assert seen is not None and valid_traceparent(seen) == seen


async def test_a_proxied_request_logs_one_access_line_at_the_gateway_and_nothing_else(gateway, client, captured):
    r = await client.get(f"{gateway}/api/courses/quiet-check", headers={"X-Request-ID": "quiet-1"})
    assert r.status_code == 404
    gateway_lines = [rec for rec, rid, _ in captured.records if rid == "quiet-1" and getattr(rec, "path", None) != "/quiet-check"]
    assert [(rec.name, rec.getMessage()) for rec in gateway_lines] == [("sprout.access", "GET /api/courses/quiet-check 404")]


async def test_a_wrong_method_is_the_services_405_problem(gateway, client):
    r = await client.delete(f"{gateway}/api/courses/healthz")
    body = assert_problem(r, 405, "method_not_allowed")
    assert "GET" in body["detail"]


async def test_proxied_requests_are_counted_per_service_in_the_metrics(gateway, gateway_metrics, client):
    await client.get(f"{gateway}/api/tracking/healthz")
    metrics = (await client.get(f"{gateway_metrics}/metrics")).text
    line = next(
        l for l in metrics.splitlines()
        if l.startswith("sprout_http_requests_total{") and 'service="gateway"' in l and 'route="/api/tracking/{path}"' in l
        and 'status="200"' in l
    )
    assert float(line.rsplit(" ", 1)[1]) >= 1


# ---------------------------------------------------------------- faithful forwarding (stand-in service)


async def test_get_forwards_path_and_query_exactly(edge_gateway, client):
    r = await client.get(f"{edge_gateway}/api/selection/echo/a%20b/caf%C3%A9/@x?x=1&x=2&q=two%20words&empty=&u=%2F")
    assert r.status_code == 200
    echo = r.json()
    assert echo["method"] == "GET"
    assert echo["raw_path"] == "/echo/a%20b/caf%C3%A9/@x"
    assert echo["query"] == "x=1&x=2&q=two%20words&empty=&u=%2F"
    assert echo["body"] == ""
    assert r.headers["x-upstream"] == "echo"


async def test_post_forwards_body_and_headers_byte_for_byte(edge_gateway, client):
    payload = '{"name": "沙县", "size": 3,   "note": "spacing kept"}'.encode()
    r = await client.post(
        f"{edge_gateway}/api/selection/echo/things?dry_run=1",
        content=payload,
        headers={"Content-Type": "application/json; charset=utf-8", "Authorization": "Bearer abc", "X-Custom": "kept"},
    )
    assert r.status_code == 200
    echo = r.json()
    assert echo["method"] == "POST"
    assert echo["body"].encode("latin-1") == payload
    assert header(echo, "content-type") == ["application/json; charset=utf-8"]
    assert header(echo, "content-length") == [str(len(payload))]
    assert header(echo, "authorization") == ["Bearer abc"]
    assert header(echo, "x-custom") == ["kept"]
    assert echo["query"] == "dry_run=1"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
async def test_every_method_is_forwarded(edge_gateway, client, method):
    r = await client.request(method, f"{edge_gateway}/api/selection/echo/m", content=b'{"a":1}' if method in ("PUT", "PATCH") else None,
                             headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    assert r.json()["method"] == method


async def test_head_is_forwarded_without_a_body(edge_gateway, client):
    r = await client.head(f"{edge_gateway}/api/selection/echo/h")
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["x-upstream"] == "echo"


async def test_hop_by_hop_and_spoofed_forwarding_headers_stop_at_the_gateway(edge_gateway, standin, client):
    r = await client.get(
        f"{edge_gateway}/api/selection/echo/hops",
        headers={
            "Connection": "keep-alive, X-Drop-Me",
            "X-Drop-Me": "1",
            "Keep-Alive": "timeout=5",
            "Proxy-Authorization": "Basic Zm9vOmJhcg==",
            "TE": "trailers",
            "X-Forwarded-For": "6.6.6.6",
            "X-Forwarded-Host": "evil.example",
            "Forwarded": "for=6.6.6.6",
            "X-Stays": "yes",
        },
    )
    echo = r.json()
    names = {k for k, _ in echo["headers"]}
    for gone in ("x-drop-me", "keep-alive", "proxy-authorization", "te", "forwarded"):
        assert gone not in names
    assert header(echo, "x-stays") == ["yes"]
    assert header(echo, "x-forwarded-for") == ["127.0.0.1"]
    assert header(echo, "x-forwarded-proto") == ["http"]
    assert header(echo, "x-forwarded-host") == [edge_gateway.removeprefix("http://")]
    assert header(echo, "host") == [standin[1].removeprefix("http://")]



async def test_request_id_and_trace_reach_the_stand_in(edge_gateway, client):
    sent = new_traceparent()
    r = await client.get(f"{edge_gateway}/api/selection/echo/ids", headers={"X-Request-ID": "rid-7", "traceparent": sent})
    echo = r.json()
    assert header(echo, "x-request-id") == ["rid-7"] and echo["request_id"] == "rid-7"
    assert len(header(echo, "traceparent")) == 1
    assert trace_id_of(echo["traceparent"]) == trace_id_of(sent)


@pytest.mark.parametrize("code", [201, 204, 302, 409, 418, 503])
async def test_status_headers_and_cookies_come_back(edge_gateway, client, code):
    r = await client.get(f"{edge_gateway}/api/selection/status/{code}")
    assert r.status_code == code
    assert r.headers["x-upstream"] == "status"
    assert r.headers["set-cookie"] == "flavour=oat; Path=/; HttpOnly"
    assert r.content == (b"" if code == 204 else f"status {code}".encode())
    # The gateway's own Date, Server and X-Request-ID; the service's copies are dropped.
    for name in ("date", "server", "x-request-id"):
        assert len(r.headers.get_list(name)) == 1, name


async def test_a_large_unsized_answer_is_streamed_through_intact(edge_gateway, client):
    # 40 chunks of 50 KB, with no Content-Length: over the edge gateway's 1 KB buffer.
    r = await client.get(f"{edge_gateway}/api/selection/stream?chunks=40&size=50000")
    assert r.status_code == 200
    assert len(r.content) == 2_000_000
    assert r.content[:50000] == b"A" * 50000 and r.content[-50000:] == bytes([65 + 39 % 26]) * 50000


async def test_a_compressed_answer_passes_through_compressed(edge_gateway):
    async with httpx.AsyncClient(timeout=10) as raw:
        async with raw.stream("GET", f"{edge_gateway}/api/selection/gzip") as r:
            body = b"".join([chunk async for chunk in r.aiter_raw()])
    assert r.headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == b"hello " * 100


# ---------------------------------------------------------------- when the service cannot answer


async def test_a_service_that_is_down_is_a_502_problem(edge_gateway, client):
    for method in ("GET", "POST"):
        r = await client.request(method, f"{edge_gateway}/api/mentoring/healthz", json={} if method == "POST" else None)
        body = assert_problem(r, 502, "service_unavailable")
        assert "mentoring" in body["detail"]


async def test_a_slow_service_is_a_504_problem_after_the_timeout(edge_gateway, client):
    started = time.monotonic()
    r = await client.get(f"{edge_gateway}/api/selection/slow?seconds=1.5")
    elapsed = time.monotonic() - started
    body = assert_problem(r, 504, "service_timeout")
    assert "selection" in body["detail"] and str(EDGE_TIMEOUT) in body["detail"]
    assert EDGE_TIMEOUT <= elapsed < 1.4


async def test_a_service_just_under_the_timeout_still_answers(edge_gateway, client):
    r = await client.get(f"{edge_gateway}/api/selection/slow?seconds=0.05")
    assert r.status_code == 200 and r.json() == {"slept": 0.05}


async def test_a_safe_request_the_service_hung_up_on_is_tried_once_more(edge_gateway, hang_up, client):
    server, _ = hang_up
    target = f"/hang-up-once/{edge_gateway.rsplit(':', 1)[1]}/get"
    r = await client.get(f"{edge_gateway}/api/tracking{target}")
    assert r.status_code == 200 and r.text == f"GET {target}"
    assert server.seen[("GET", target)] == 2


async def test_an_unsafe_request_the_service_hung_up_on_is_not_sent_twice(edge_gateway, hang_up, client):
    server, _ = hang_up
    target = f"/hang-up-once/{edge_gateway.rsplit(':', 1)[1]}/post"
    r = await client.post(f"{edge_gateway}/api/tracking{target}", json={"n": 1})
    assert_problem(r, 502, "service_unavailable")
    assert server.seen[("POST", target)] == 1


@pytest.mark.parametrize("path", ["/api/nosuch/x", "/api/gateway/healthz", "/api/Courses/healthz"])
async def test_an_unknown_service_is_a_404_problem(gateway, client, path):
    body = assert_problem(await client.get(gateway + path), 404, "unknown_service")
    assert path.split("/")[2] in body["detail"]


async def test_the_bare_api_prefix_is_not_found(gateway, client):
    assert_problem(await client.get(f"{gateway}/api/"), 404, "not_found")


# ---------------------------------------------------------------- bad input never becomes a 500


async def test_malformed_json_through_the_gateway_is_the_services_400(edge_gateway, client):
    r = await client.post(f"{edge_gateway}/api/selection/items", content=b'{"name": "x", ', headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "malformed_json")


async def test_invalid_fields_through_the_gateway_are_the_services_422(edge_gateway, client):
    r = await client.post(f"{edge_gateway}/api/selection/items", json={"name": "x", "size": "big"})
    body = assert_problem(r, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["size"]


async def test_a_valid_body_is_created(edge_gateway, client):
    r = await client.post(f"{edge_gateway}/api/selection/items", json={"name": "x", "size": 2})
    assert r.status_code == 201 and r.json() == {"name": "x", "size": 2}


async def test_a_body_over_the_limit_is_refused_before_it_reaches_the_service(edge_gateway, standin, client):
    stand, _ = standin
    before = stand.hits["echo"]
    r = await client.post(f"{edge_gateway}/api/selection/echo/big", content=b"x" * (EDGE_MAX_BYTES + 1),
                          headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "payload_too_large")

    async def chunks():
        for _ in range(EDGE_MAX_BYTES // 8192 + 2):
            yield b"y" * 8192

    # Chunked, with no Content-Length to refuse it up front: caught while it is read.
    r = await client.post(f"{edge_gateway}/api/selection/echo/big", content=chunks(), headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "payload_too_large")
    assert stand.hits["echo"] == before


async def test_a_body_at_the_limit_goes_through(edge_gateway, client):
    r = await client.post(f"{edge_gateway}/api/selection/echo/at-limit", content=b"z" * EDGE_MAX_BYTES,
                          headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and len(r.json()["body"]) == EDGE_MAX_BYTES


async def test_a_wrong_content_type_is_a_415_problem(edge_gateway, client):
    r = await client.post(f"{edge_gateway}/api/selection/items", content=b"name=x", headers={"Content-Type": "text/plain"})
    assert_problem(r, 415, "unsupported_media_type")
