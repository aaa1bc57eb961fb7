"""A route's own body limit (shared/routes.body_limit): an upload route takes files over the service's request limit, and only it does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import ClassVar

import pytest
from fastapi import Request

from shared.app import create_service_app
from shared.auth import Public
from shared.routes import UPLOAD_ENVELOPE, APIRouter, body_limit
from shared.settings import BaseServiceSettings
from tests.identity.factories import id_number
from tests.platform.conftest import SAMPLE_MAX_BYTES, assert_problem
from tests.platform.sample_service.app import SAMPLE_TREE, SampleSettings
from tests.platform.test_sheets import HEADER, csv_file, xlsx

SCORES_LIMIT = SampleSettings.model_fields["scores_max_bytes"].default


def scores_upload(data: bytes, name: str = "scores.csv") -> dict:
    return {"file": (name, data, "text/csv")}


async def test_the_upload_route_takes_a_workbook_larger_than_the_services_request_limit(sample):
    rows = [["id_number", "subject", "score", "remark"]] + [
        [id_number(date(2011, 1, 1).replace(day=1 + i % 28, month=1 + i // 28)), "数学", 90, "备注" * 10] for i in range(45)
    ]
    workbook = xlsx(rows)
    assert SAMPLE_MAX_BYTES < len(workbook) < SCORES_LIMIT
    r = await sample.post("/scores", files=scores_upload(workbook, "scores.xlsx"))
    assert r.status_code == 200, r.text
    assert len(r.json()["accepted"]) == 45


async def test_every_other_route_keeps_the_services_limit(sample):
    r = await sample.post("/widgets", content=b"{" + b" " * SAMPLE_MAX_BYTES + b"}", headers={"Content-Type": "application/json"})
    body = assert_problem(r, 413, "payload_too_large")
    assert str(SAMPLE_MAX_BYTES) in body["detail"]


async def test_a_file_over_the_uploads_limit_is_refused_as_too_large(sample):
    # Over the file's limit, within the route's: the upload's own problem, with the file's limit.
    r = await sample.post("/scores", files=scores_upload(csv_file(HEADER, "x" * (SCORES_LIMIT + 10))))
    body = assert_problem(r, 413, "import_too_large")
    assert str(SCORES_LIMIT) in body["detail"]
    # Over the route's limit too: refused before it is read, by its length or while it arrives.
    route_limit = SCORES_LIMIT + UPLOAD_ENVELOPE
    huge = csv_file(HEADER, "x" * (route_limit + 10))
    r = await sample.post("/scores", files=scores_upload(huge))
    assert str(route_limit) in assert_problem(r, 413, "payload_too_large")["detail"]

    async def chunks() -> AsyncIterator[bytes]:
        # A well-formed form whose file never ends, with no Content-Length to refuse it up front.
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\nContent-Type: text/csv\r\n\r\n'
        for _ in range(route_limit // 8192 + 2):
            yield b"y" * 8192

    r = await sample.post("/scores", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert str(route_limit) in assert_problem(r, 413, "payload_too_large")["detail"]


class LimitSettings(BaseServiceSettings):
    service_name: ClassVar[str] = "limits"
    upload_max_bytes: int = 0


def _app_declaring(limit) -> None:
    router = APIRouter(prefix="/up", dependencies=[Public])

    @router.post("")
    @body_limit(limit)
    async def upload(request: Request) -> dict:
        return {"size": len(await request.body())}

    create_service_app(
        LimitSettings(env="test", events_enabled=False), title="t", description="d", routers=[router], migration_tree=SAMPLE_TREE,
    )


@pytest.mark.parametrize("limit", ["upload_max_bytes", lambda settings: -1, "no_such_setting", 0])
def test_a_declaration_that_comes_to_no_limit_stops_the_app_being_made(limit):
    with pytest.raises((ValueError, AttributeError)):
        _app_declaring(limit)
