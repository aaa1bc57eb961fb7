"""What the limit tests (and the deploy tests of the limits' settings) share: requests from a chosen peer address."""

from __future__ import annotations

import httpx


async def get_from(app, peer: str, forwarded: str | None = None, path: str = "/.well-known/jwks.json", **headers: str) -> httpx.Response:
    """GET `path` of a running `app` as if the TCP connection came from `peer`, with that X-Forwarded-For."""
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        return await client.get(path, headers=headers)


async def statuses_from(app, peer: str, forwarded: list[str | None]) -> list[int]:
    return [(await get_from(app, peer, f)).status_code for f in forwarded]
