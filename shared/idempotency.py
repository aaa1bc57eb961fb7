"""`Idempotency-Key` for creates: a retried POST answers with the first attempt's response.

Each service keeps the keys in its own schema (`<schema>.idempotency_key`), written in the
same transaction as the create, so a key is stored exactly when the create committed.

For frontend developers: send `Idempotency-Key: <a fresh uuid>` with a create, and send the
same key again when you retry it (after a timeout, a lost connection, a double click). A
retry with the same request answers the first attempt's status and body again, with the
header `Idempotent-Replayed: true`, and creates nothing. Reusing a key for a different
request is refused with 422 `idempotency_key_reused`. Keys belong to the caller: two
callers never see each other's keys. A create that failed leaves no key behind, so its
retry really runs again.

For backend developers, a create endpoint takes `IdempotencyKey` and records its answer::

    @router.post("/courses", status_code=201, responses=problem_responses(*IDEMPOTENCY_PROBLEMS))
    async def create_course(body: CourseIn, session: DbSession, idempotency: IdempotencyKey) -> CourseOut:
        course = await service.create_course(session=session, data=body)
        return await idempotency.save(CourseOut.model_validate(course))

The dependency claims the key before the endpoint runs (a repeat never reaches the
endpoint); `save` stores the response in the request's transaction. A claimed key whose
endpoint returns without `save` is a bug, answered as a 500 so no test misses it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, Request
from fastapi.encoders import jsonable_encoder
from pydantic import TypeAdapter
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse, Response

from shared.db import DbSession
from shared.problems import ProblemError

T = TypeVar("T")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_PROBLEMS = ("idempotency_key_invalid", "idempotency_key_reused")

# Printable ASCII (what the catalogue's message promises), not only spaces.
_KEY = re.compile(r"[\x20-\x7e]{1,255}")


def idempotency_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_key",
        metadata,
        Column("principal", String(200), primary_key=True, server_default=""),
        Column("key", String(255), primary_key=True),
        Column("method", String(10), nullable=False),
        Column("path", String(500), nullable=False),
        Column("request_hash", String(64), nullable=False),
        Column("status_code", Integer, nullable=True),
        Column("response_body", JSONB, nullable=True),
        Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    )


def create_idempotency_table(schema: str) -> None:
    """Migration step: the key table in `schema` (each service's first revision calls this)."""
    from alembic import op

    table = idempotency_table(MetaData(schema=schema))
    op.create_table(table.name, *[c._copy() for c in table.columns], schema=schema)


def drop_idempotency_table(schema: str) -> None:
    from alembic import op

    op.drop_table("idempotency_key", schema=schema)


class IdempotentReplay(Exception):
    """Raised by the dependency when the key was already used for this very request."""

    def __init__(self, status_code: int, body: Any) -> None:
        super().__init__(f"replay of a {status_code} response")
        self.status_code = status_code
        self.body = body


async def _on_replay(request: Request, exc: IdempotentReplay) -> Response:
    headers = {REPLAYED_HEADER: "true"}
    if exc.body is None:
        return Response(status_code=exc.status_code, headers=headers)
    return JSONResponse(exc.body, status_code=exc.status_code, headers=headers)


def install_idempotency(app: FastAPI, schema: str) -> None:
    """Point `IdempotencyKey` at the key table of the service's `schema` and answer its replays."""
    app.state.idempotency_table = idempotency_table(MetaData(schema=schema))
    app.add_exception_handler(IdempotentReplay, _on_replay)


def principal_of(request: Request) -> str:
    """Whose keys these are: the authenticated principal once identity sets one, else ''."""
    principal = getattr(request.state, "principal_id", None)
    return "" if principal is None else str(principal)


async def request_fingerprint(request: Request) -> str:
    """What makes two requests 'the same': method, path, query and body (JSON compared by value)."""
    body = await request.body()
    try:
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, RecursionError):
        pass  # not JSON: compare the bytes
    h = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), request.url.query.encode(), body):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


@lru_cache(maxsize=512)
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


class Idempotency:
    """The create's idempotency handle; `save` records its response when a key was sent."""

    def __init__(self, request: Request, session: AsyncSession, table: Table | None, principal: str, key: str | None):
        self._request = request
        self._session = session
        self._table = table
        self.principal = principal
        self.key = key
        self.saved = False

    async def save(self, result: T, *, status_code: int | None = None) -> T:
        """Store `result` (what the endpoint returns) as the answer to replay; returns it unchanged.

        `status_code` defaults to the route's own (`status_code=201` on the decorator); pass it
        only when the endpoint also sets `response.status_code` itself.
        """
        if self.key is None or self._table is None:
            return result
        route = self._request.scope.get("route")
        status = status_code or getattr(route, "status_code", None) or 200
        body = _serialize(result, route)
        t = self._table
        await self._session.execute(
            t.update()
            .where(t.c.principal == self.principal, t.c.key == self.key)
            .values(status_code=status, response_body=body)
        )
        self.saved = True
        return result


def _serialize(result: Any, route: Any) -> Any:
    """The JSON FastAPI will send for `result`, by the route's own response model and options."""
    if isinstance(result, Response):
        raise TypeError("Idempotency.save takes the response content, not a Response")
    model = getattr(route, "response_model", None)
    if model is None:
        return jsonable_encoder(result)
    adapter = _adapter(model)
    value = adapter.validate_python(result, from_attributes=True)
    return adapter.dump_python(
        value,
        mode="json",
        by_alias=getattr(route, "response_model_by_alias", True),
        exclude_unset=getattr(route, "response_model_exclude_unset", False),
        exclude_defaults=getattr(route, "response_model_exclude_defaults", False),
        exclude_none=getattr(route, "response_model_exclude_none", False),
    )


async def _claim(session: AsyncSession, table: Table, *, principal: str, key: str, request: Request) -> None:
    """Insert the key row, or replay/refuse when it exists. Raises `IdempotentReplay` or a problem."""
    digest = await request_fingerprint(request)
    where = (table.c.principal == principal, table.c.key == key)
    for _ in range(2):
        # A concurrent first attempt holds the unique index entry until it commits or rolls
        # back: this INSERT waits for it, then either does nothing (committed: replay below)
        # or inserts (rolled back: this attempt is now the first).
        claimed = await session.execute(
            insert(table)
            .values(
                principal=principal,
                key=key,
                method=request.method,
                path=request.url.path[:500],
                request_hash=digest,
            )
            .on_conflict_do_nothing(index_elements=[table.c.principal, table.c.key])
            .returning(table.c.key)
        )
        if claimed.first() is not None:
            return
        stored = select(table.c.request_hash, table.c.status_code, table.c.response_body).where(*where)
        row = (await session.execute(stored)).first()
        if row is None:
            continue  # the key was deleted between the two statements; claim it again
        if row.request_hash != digest:
            raise ProblemError("idempotency_key_reused")
        if row.status_code is None:
            raise RuntimeError(f"idempotency key {key!r} was committed without a response; its endpoint never saved")
        raise IdempotentReplay(row.status_code, row.response_body)
    raise RuntimeError(f"idempotency key {key!r} could not be claimed")


async def _idempotency(
    request: Request,
    session: DbSession,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description=(
                "Optional. A unique key (e.g. a UUID) for this create; retrying with the same key and "
                "request answers the first response again (header `Idempotent-Replayed: true`) and "
                "creates nothing. 1 to 255 printable ASCII characters."
            ),
        ),
    ] = None,
) -> AsyncIterator[Idempotency]:
    """Claims the request's Idempotency-Key in its transaction, or replays the stored answer."""
    if idempotency_key is None:
        yield Idempotency(request, session, None, principal_of(request), None)
        return
    if not _KEY.fullmatch(idempotency_key) or not idempotency_key.strip():
        raise ProblemError("idempotency_key_invalid")
    table = getattr(request.app.state, "idempotency_table", None)
    if table is None:
        raise RuntimeError("IdempotencyKey needs an app built by shared.app.create_service_app")
    principal = principal_of(request)
    await _claim(session, table, principal=principal, key=idempotency_key, request=request)
    handle = Idempotency(request, session, table, principal, idempotency_key)
    yield handle
    if not handle.saved:
        # Raising here rolls the request back, key included: better a loud 500 than a key
        # that can never replay.
        endpoint = getattr(request.scope.get("route"), "name", "?")
        raise RuntimeError(f"{endpoint} took an Idempotency-Key but never called Idempotency.save")


# scope="function": like DbSession, so the check after the endpoint runs before the commit.
IdempotencyKey = Annotated[Idempotency, Depends(_idempotency, scope="function")]
