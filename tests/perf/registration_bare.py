"""The bare endpoint registration day is compared with: FastAPI and an asyncpg pool running the one conditional UPDATE.

`POST /take` with `{"section_id": "..."}` runs, in autocommit, exactly the statement that takes
a seat in courses (services/courses/registration/service.py `take_seat`), on a scratch copy of
the sections (`TABLE`, made by tests/perf/registration.py): 200 with the new `taken` when a
seat was free, 409 when the section is full. No auth, no gateway, no ORM, no other query:
the floor a registration's cost is measured against. Served by uvicorn as `sprout serve`
serves a service (one worker, uvloop, httptools), with a pool as large as a courses replica's
(`SPROUT_BENCH_POOL`); `SPROUT_BENCH_DSN` names the database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.responses import JSONResponse

TABLE = "bench_registration.section"
TAKE = f"UPDATE {TABLE} SET taken = taken + 1 WHERE id = $1 AND taken < capacity RETURNING taken"


class TakeIn(BaseModel):
    section_id: uuid.UUID


def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        size = int(os.environ.get("SPROUT_BENCH_POOL", "20"))
        app.state.pool = await asyncpg.create_pool(os.environ["SPROUT_BENCH_DSN"], min_size=size, max_size=size)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None)

    @app.get("/readyz")
    async def readyz() -> dict:
        return {"status": "ready"}

    @app.post("/take")
    async def take(body: TakeIn) -> JSONResponse:
        taken = await app.state.pool.fetchval(TAKE, body.section_id)
        if taken is None:
            return JSONResponse({"status": "full"}, status_code=409)
        return JSONResponse({"status": "confirmed", "taken": taken})

    return app
