"""Calls to the selection service as the world's people."""

from __future__ import annotations

from typing import Any

import httpx

from tests.matrix.world import World

WEIGHTS = {"iq_test": 1, "written_test": 1, "interview": 2}


async def call(w: World, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return await w.clients["selection"].request(method, path, headers=w.caller(who).headers, **kwargs)


def problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["code"] == code, body
    return body


async def new_campaign(w: World, year: int, **overrides: Any) -> dict[str, Any]:
    body = {
        "year": year, "title": f"Campaign {year}", "school_limit": 5,
        "disciplines": [{"discipline": "math", "quota": 2, "min_grade": 4, "max_grade": 9, "weights": WEIGHTS}],
        **overrides,
    }
    r = await call(w, "staff", "POST", "/campaigns", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def advance(w: World, campaign_id: str, to: str, reason: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"to": to}
    if reason:
        body["reason"] = reason
    return await call(w, "staff", "POST", f"/campaigns/{campaign_id}/advance", json=body)
