"""OpenTelemetry: OTLP export when SPROUT_OTLP_ENDPOINT is set, otherwise nothing is installed.

The W3C `traceparent` is carried either way: from the incoming request to the gateway's
upstream call, and from a publisher's transaction through the event table to the handler.
"""

from __future__ import annotations

import logging
import re
import secrets
from contextlib import contextmanager
from typing import Iterator

from shared.context import traceparent_var

log = logging.getLogger(__name__)

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_enabled = False


def tracing_enabled() -> bool:
    return _enabled


def valid_traceparent(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().lower()
    m = _TRACEPARENT.match(value)
    if not m or m.group(1) == "0" * 32 or m.group(2) == "0" * 16:
        return None
    return value


def new_traceparent(trace_id: str | None = None) -> str:
    return f"00-{trace_id or secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def trace_id_of(traceparent: str | None) -> str | None:
    m = _TRACEPARENT.match(traceparent or "")
    return m.group(1) if m else None


def current_traceparent() -> str | None:
    """The traceparent of the current span when tracing is on, else the one the request carried."""
    if _enabled:
        from opentelemetry import trace

        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"
    return traceparent_var.get()


def current_trace_id() -> str | None:
    return trace_id_of(current_traceparent())


@contextmanager
def continue_trace(traceparent: str | None, span_name: str, **attributes) -> Iterator[None]:
    """Run a block as a child of `traceparent` (an event handler continuing its publisher's trace)."""
    token = traceparent_var.set(valid_traceparent(traceparent))
    try:
        if _enabled:
            from opentelemetry import trace
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

            parent = TraceContextTextMapPropagator().extract({"traceparent": traceparent} if traceparent else {})
            tracer = trace.get_tracer("sprout.events")
            with tracer.start_as_current_span(span_name, context=parent, attributes=attributes):
                yield
        else:
            yield
    finally:
        traceparent_var.reset(token)


def setup_tracing(service_name: str, endpoint: str | None) -> None:
    """Install the OTLP exporter and the library instrumentations; a no-op without an endpoint."""
    global _enabled
    if not endpoint or _enabled:
        return
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"sprout-{service_name}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument()
    AioHttpClientInstrumentor().instrument()
    _enabled = True
    log.info("tracing on", extra={"otlp_endpoint": endpoint})


def instrument_app(app) -> None:
    if _enabled:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")


def instrument_engine(engine) -> None:
    if _enabled:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        # The instrumentation declares sqlalchemy < 2.1 and otherwise skips itself with only a
        # log line; it works with 2.1 (tests/platform/test_tracing.py checks the spans arrive).
        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, skip_dep_check=True)
