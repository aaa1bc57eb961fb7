"""OpenTelemetry: spans reach the OTLP endpoint when one is set, and nothing is installed otherwise."""

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from shared import tracing
from tests.conftest import ROOT, running_app
from tests.platform.conftest import free_port, service_app

FASTAPI_SCOPE = "opentelemetry.instrumentation.fastapi"
SQLALCHEMY_SCOPE = "opentelemetry.instrumentation.sqlalchemy"


class OtlpReceiver:
    """A stand-in OTLP/HTTP collector on a free loopback port: keeps every POST /v1/traces it gets."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path == "/v1/traces":
                    received.append(ExportTraceServiceRequest.FromString(body))
                    payload = ExportTraceServiceResponse().SerializeToString()
                    self.send_response(200)
                    self.send_header("content-type", "application/x-protobuf")
                else:
                    payload = b""
                    self.send_response(404)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "OtlpReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def spans(self) -> list[tuple[str, str, Span]]:
        """(service.name, instrumentation scope, span) of everything received so far."""
        out = []
        for req in list(self.requests):
            for rs in req.resource_spans:
                service = next((a.value.string_value for a in rs.resource.attributes if a.key == "service.name"), "")
                for ss in rs.scope_spans:
                    out.extend((service, ss.scope.name, span) for span in ss.spans)
        return out


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_a_request_exports_fastapi_and_sqlalchemy_spans_in_the_callers_trace(sample_database_url, tmp_path):
    trace_id = uuid.uuid4().hex
    parent_span_id = uuid.uuid4().hex[:16]
    port = free_port()
    log_path = tmp_path / "service.log"
    with OtlpReceiver() as receiver, log_path.open("wb") as log_file:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SPROUT_", "OTEL_"))}
        env.update(
            SPROUT_ENV="test",
            SPROUT_DATABASE_URL=sample_database_url,
            SPROUT_OTLP_ENDPOINT=receiver.url,
            OTEL_BSP_SCHEDULE_DELAY="100",
        )
        # Its own process: the tracer provider is global and cannot be undone in this one.
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "tests.platform.sample_service.app:create_app", "--factory",
                "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
            ],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "service not ready: " + log_path.read_text()[-2000:]
                time.sleep(0.1)

            r = httpx.get(
                f"{base}/widgets",
                params={"batch": str(uuid.uuid4())},
                headers={"traceparent": f"00-{trace_id}-{parent_span_id}-01", "x-request-id": "traced-1"},
                timeout=10,
            )
            assert r.status_code == 200, r.text

            def ours():
                return [(svc, scope, s) for svc, scope, s in receiver.spans() if s.trace_id.hex() == trace_id]

            deadline = time.monotonic() + 15
            while not ({FASTAPI_SCOPE, SQLALCHEMY_SCOPE} <= {scope for _, scope, _ in ours()}):
                assert time.monotonic() < deadline, f"spans received: {[(sc, s.name) for _, sc, s in receiver.spans()]}"
                time.sleep(0.1)
        finally:
            _stop(proc)

    spans = ours()
    assert {svc for svc, _, _ in spans} == {"sprout-sample"}
    server = [s for _, scope, s in spans if scope == FASTAPI_SCOPE and s.kind == Span.SpanKind.SPAN_KIND_SERVER]
    assert len(server) == 1
    assert server[0].parent_span_id.hex() == parent_span_id  # a child of the caller's span
    assert server[0].name == "GET /widgets"
    queries = [s for _, scope, s in spans if scope == SQLALCHEMY_SCOPE]
    statements = [a.value.string_value for s in queries for a in s.attributes if a.key in ("db.statement", "db.query.text")]
    assert any("platform_sample.widget" in st for st in statements), statements
    # The SQL ran inside the request's span.
    ids = {s.span_id for _, _, s in spans}
    assert all(q.parent_span_id in ids for q in queries)
    # Its log line carries the same trace id.
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("request_id") == "traced-1" and line.get("logger") == "sprout.access"]
    assert access and access[0]["trace_id"] == trace_id


async def test_without_an_endpoint_nothing_is_installed(database_url):
    app = service_app("courses", database_url)
    async with running_app(app) as client:
        assert (await client.get("/readyz")).status_code == 200
    assert not tracing.tracing_enabled()
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)
    assert not any("OpenTelemetry" in m.cls.__name__ for m in app.user_middleware)
    # The global provider is still the API's no-op proxy, not the SDK's.
    assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    assert not HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
    assert not SQLAlchemyInstrumentor().is_instrumented_by_opentelemetry
