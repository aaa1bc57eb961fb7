"""What Kubernetes and Prometheus ask every service: alive? ready? how busy?"""

import asyncio
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.migrations import MigrationTree
from tests.conftest import running_app
from tests.platform.conftest import SERVICE_NAMES, assert_problem, free_port, running_sample, service_app
from tests.platform.sample_service.app import SAMPLE_TREE


def unreachable_database_url() -> str:
    # A loopback port nobody listens on: connections are refused at once.
    return f"postgresql://sprout@127.0.0.1:{free_port()}/sprout"


async def test_liveness_needs_no_database_and_readiness_says_it_is_unreachable():
    for name in SERVICE_NAMES:
        app = service_app(name, unreachable_database_url())
        started = time.monotonic()
        # The lifespan must come up without the database (liveness must not depend on it).
        async with asyncio.timeout(15):
            async with running_app(app) as client:
                r = await client.get("/healthz")
                assert r.status_code == 200, (name, r.text)
                assert r.json() == {"status": "ok", "service": name}

                r = await client.get("/readyz")
                body = assert_problem(r, 503, "not_ready")
                assert "database unreachable" in body["detail"]
        assert time.monotonic() - started < 15


async def test_readiness_fails_when_a_schema_is_not_migrated_to_the_head_the_code_expects(sample_database_url):
    # The sample tree's revisions, expected in a schema where they never ran: what a deploy
    # looks like when new code starts before its migration job.
    lagging = MigrationTree("platform_not_migrated", SAMPLE_TREE.path)
    async with running_sample(sample_database_url, migration_tree=lagging) as running:
        r = await running.client.get("/readyz")
        body = assert_problem(r, 503, "not_ready")
        assert "platform_not_migrated" in body["detail"]
        assert "migrations not at head" in body["detail"]
        assert (await running.client.get("/healthz")).status_code == 200


async def test_readiness_is_ok_when_migrated(service):
    r = await service.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "migrations": "ok"}


def requests_total(text: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == "sprout_http_requests":
            for sample in family.samples:
                if sample.name != "sprout_http_requests_total":
                    continue
                if all(sample.labels.get(k) == v for k, v in labels.items()):
                    return sample.value
    return 0.0


async def test_metrics_count_requests_by_route_template(sample):
    labels = {"service": "sample", "method": "GET", "route": "/widgets/{widget_id}", "status": "404"}
    before = requests_total((await sample.get("/metrics")).text, **labels)
    for _ in range(3):
        r = await sample.get("/widgets/00000000-0000-4000-8000-000000000001")
        assert_problem(r, 404, "not_found")
    scrape = await sample.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    assert requests_total(scrape.text, **labels) == before + 3
    # The concrete ids never become label values: one series per route, not per widget.
    assert "00000000-0000-4000-8000-000000000001" not in scrape.text
    assert "sprout_http_request_duration_seconds_bucket" in scrape.text


async def test_metrics_of_a_real_service_after_a_request(service):
    name = (await service.get("/healthz")).json()["service"]
    if name == "gateway":
        # Its API port is public: metrics live on SPROUT_METRICS_PORT only (next test).
        r = await service.get("/metrics")
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        return
    labels = {"service": name, "method": "GET", "route": "/healthz", "status": "200"}
    before = requests_total((await service.get("/metrics")).text, **labels)
    await service.get("/healthz")
    after = requests_total((await service.get("/metrics")).text, **labels)
    assert after == before + 1
    # Unmatched paths share one label value, so scanners cannot blow up the series count.
    await service.get("/wp-admin/setup.php")
    assert requests_total((await service.get("/metrics")).text, service=name, route="unmatched", status="404") >= 1


async def test_the_gateway_serves_metrics_on_its_metrics_port_only(database_url):
    app = service_app("gateway", database_url, metrics_port=0)
    async with running_app(app) as gateway:
        await gateway.get("/healthz")
        assert (await gateway.get("/metrics")).status_code == 404
        async with httpx.AsyncClient() as scraper:
            r = await scraper.get(f"http://127.0.0.1:{app.state.metrics_port}/metrics")
        assert r.status_code == 200
        assert 'sprout_http_requests_total{method="GET",route="/healthz",service="gateway",status="200"}' in r.text
    # Stopped with the app: nothing is left listening.
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as scraper:
            await scraper.get(f"http://127.0.0.1:{app.state.metrics_port}/metrics")
