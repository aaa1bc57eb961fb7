"""A request id follows each request: accepted from the caller, echoed, in problems and in the logs."""

import json
import re

import pytest

from tests.platform.conftest import assert_problem

GENERATED = re.compile(r"[0-9a-f]{32}")


def log_lines(capsys) -> list[dict]:
    """Every line the JSON formatter wrote to stderr; each must be valid JSON."""
    out = []
    for line in capsys.readouterr().err.splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


async def test_a_sane_request_id_is_kept_and_echoed(service):
    r = await service.get("/healthz", headers={"x-request-id": "web-2f1c.42:retry-1"})
    assert r.status_code == 200
    assert r.headers["x-request-id"] == "web-2f1c.42:retry-1"


async def test_a_request_id_is_generated_when_absent(service):
    first = await service.get("/healthz")
    second = await service.get("/healthz")
    assert GENERATED.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize(
    "bad",
    ["a" * 500, "a" * 129, "line\nbreak", "tab\there", "with space", "<script>", "ünïcode", "", "semi;colon"],
)
async def test_a_malformed_request_id_is_replaced(sample, bad):
    # Raw ASGI headers, so even a newline reaches the app as a client could send it.
    r = await sample.get("/nowhere", headers=[(b"x-request-id", bad.encode())])
    body = assert_problem(r, 404, "not_found")
    assert GENERATED.fullmatch(r.headers["x-request-id"])
    assert body["request_id"] == r.headers["x-request-id"]


async def test_the_request_id_is_in_the_problem_and_in_the_log_line(sample, capsys):
    capsys.readouterr()
    r = await sample.get("/widgets/not-a-uuid", headers={"x-request-id": "story-log-1"})
    body = assert_problem(r, 422, "validation_failed")
    assert body["request_id"] == "story-log-1"
    access = [line for line in log_lines(capsys) if line.get("logger") == "sprout.access"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "story-log-1"
    assert line["status"] == 422 and line["path"] == "/widgets/not-a-uuid" and line["method"] == "GET"
    assert line["service"] == "sample" and line["level"] == "info"
    assert "trace_id" not in line  # no traceparent came in and tracing is off


async def test_the_log_line_carries_the_trace_id_of_an_incoming_traceparent(sample, capsys):
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    capsys.readouterr()
    r = await sample.get(
        "/widgets/not-a-uuid",
        headers={"x-request-id": "story-log-2", "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
    )
    assert r.status_code == 422
    (line,) = [line for line in log_lines(capsys) if line.get("logger") == "sprout.access"]
    assert line["request_id"] == "story-log-2"
    assert line["trace_id"] == trace_id


async def test_a_malformed_traceparent_is_ignored(sample, capsys):
    capsys.readouterr()
    r = await sample.get("/healthz", headers={"traceparent": "00-" + "0" * 32 + "-00f067aa0ba902b7-01"})
    assert r.status_code == 200
    r = await sample.get("/widgets/x", headers={"traceparent": "garbage"})
    assert r.status_code == 422
    assert all("trace_id" not in line for line in log_lines(capsys))
