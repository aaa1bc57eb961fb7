"""Calls to the courses service as the world's people."""

from __future__ import annotations

from typing import Any

import httpx

from tests.matrix.world import World


async def call(w: World, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return await w.clients["courses"].request(method, path, headers=w.caller(who).headers, **kwargs)
