"""`Idempotency-Key` for creates: a retried POST answers with the first attempt's response.

Each service keeps the keys in its own schema (`<schema>.idempotency_key`), written in the
same transaction as the create, so a key is stored exactly when the create committed.

For frontend developers: send `Idempotency-Key: <a fresh uuid>` with a create, and send the
same key again when you retry it (after a timeout, a lost connection, a double click). A
retry with the same request answers the first attempt's status, body, `Location` and `ETag`
again, with the header `Idempotent-Replayed: true`, and creates nothing. Reusing a key for a
different request is refused with 422 `idempotency_key_reused`. Keys belong to the caller
(the signed-in person or machine client): two callers never see each other's keys. A create
that failed leaves no key behind, so its retry really runs again. A key and its stored
answer (which may hold a student's name and birth date) are kept for
`SPROUT_IDEMPOTENCY_RETENTION_HOURS` (24) and then forgotten: the same key after that is a
new request. On a create anyone may call without signing in there is nobody to own a key,
and one caller could read another's answer by guessing it, so a key sent without a token
is refused with 400 `idempotency_key_anonymous` (send it with your token, or without a key).

For backend developers, a create endpoint takes `IdempotencyKey` and records its answer::

    @router.post("/courses", status_code=201)  # its problems are declared by shared/openapi.py
    async def create_course(body: CourseIn, session: DbSession, idempotency: IdempotencyKey, response: Response,
                            principal: StaffOnly) -> CourseOut:
        course = await service.create_course(session=session, data=body)
        response.headers["Location"] = f"/courses/{course.id}"
        return await idempotency.save(CourseOut.model_validate(course))

The dependency claims the key before the endpoint runs (a repeat never reaches the
endpoint), for the route's verified caller whatever the order of the parameters;
`save` keeps the answer, and it is stored in the request's transaction, with the
`Location` and `ETag` the endpoint set, once the endpoint returns. A claimed key whose
endpoint returns without `save` is a bug, answered as a 500 so no test misses it. Every
service app purges expired keys when it starts and hourly (`purge_periodically`, from shared/app.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, Request
from fastapi.encoders import jsonable_encoder
from pydantic import TypeAdapter
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from starlette.responses import JSONResponse, Response

from shared import clock
from shared.auth import authenticate, rule_of
from shared.db import DbSession
from shared.problems import ProblemError

T = TypeVar("T")

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_PROBLEMS = ("idempotency_key_invalid", "idempotency_key_anonymous", "idempotency_key_reused")
# The headers of the first answer a replay repeats: where the created thing is, and its version.
KEPT_HEADERS = ("Location", "ETag")
# How often each service app deletes expired keys.
PURGE_EVERY = 3600.0

# Printable ASCII (what the catalogue's message promises), not only spaces.
_KEY = re.compile(r"[\x20-\x7e]{1,255}")
# The same rule as the OpenAPI states it: printable ASCII with at least one non-space character.
_KEY_PATTERN = r"^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$"


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
        Column("response_headers", JSONB, nullable=True),
    )


# Columns added after each service's first revision made the table, each by a revision of its own.
_LATER_COLUMNS = ("response_headers",)


def create_idempotency_table(schema: str) -> None:
    """Migration step: the key table in `schema` as it first was (each service's first revision calls this)."""
    from alembic import op

    table = idempotency_table(MetaData(schema=schema))
    op.create_table(table.name, *[c._copy() for c in table.columns if c.name not in _LATER_COLUMNS], schema=schema)


def drop_idempotency_table(schema: str) -> None:
    from alembic import op

    op.drop_table("idempotency_key", schema=schema)


def add_idempotency_response_headers(schema: str) -> None:
    """Migration step: the first answer's Location and ETag, so a replay repeats them."""
    from alembic import op

    op.add_column("idempotency_key", Column("response_headers", JSONB, nullable=True), schema=schema)


def drop_idempotency_response_headers(schema: str) -> None:
    from alembic import op

    op.drop_column("idempotency_key", "response_headers", schema=schema)


class IdempotentReplay(Exception):
    """Raised by the dependency when the key was already used for this very request."""

    def __init__(self, status_code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"replay of a {status_code} response")
        self.status_code = status_code
        self.body = body
        self.headers = headers or {}


async def _on_replay(request: Request, exc: IdempotentReplay) -> Response:
    headers = {**exc.headers, REPLAYED_HEADER: "true"}
    if exc.body is None:
        return Response(status_code=exc.status_code, headers=headers)
    return JSONResponse(exc.body, status_code=exc.status_code, headers=headers)


def install_idempotency(app: FastAPI, schema: str) -> None:
    """Point `IdempotencyKey` at the key table of the service's `schema` and answer its replays."""
    app.state.idempotency_table = idempotency_table(MetaData(schema=schema))
    app.add_exception_handler(IdempotentReplay, _on_replay)


async def owner_of(request: Request) -> str:
    """Whose keys these are: the route's verified caller, whatever order its dependencies run in.

    The token is verified here if the route's own rule has not run yet (the verified caller
    is kept on the request, so it is verified once). On a public route a caller without a
    token owns nothing, so a key is refused rather than shared by every anonymous caller.
    """
    try:
        principal = await authenticate(request)
    except ProblemError as exc:
        if exc.code == "not_authenticated" and rule_of(request.scope.get("route")) == "public":
            raise ProblemError("idempotency_key_anonymous") from None
        raise
    return f"{principal.kind}:{principal.id}"


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
    """The create's idempotency handle; `save` keeps its response when a key was sent."""

    def __init__(self, request: Request, table: Table | None, principal: str | None, key: str | None):
        self._request = request
        self._table = table
        self.principal = principal
        self.key = key
        self.saved: tuple[int | None, Any] | None = None

    async def save(self, result: T, *, status_code: int | None = None) -> T:
        """Keep `result` (what the endpoint returns) as the answer to replay; returns it unchanged.

        `status_code` defaults to the one the endpoint set on its `Response`, else the route's
        own (`status_code=201` on the decorator). It is stored, with the Location and ETag the
        endpoint sets, when the endpoint returns.
        """
        if self.key is None or self._table is None:
            return result
        self.saved = (status_code, _serialize(result, self._request.scope.get("route")))
        return result

    async def _store(self, session: AsyncSession, response: Response) -> None:
        assert self.saved is not None and self._table is not None
        status, body = self.saved
        route = self._request.scope.get("route")
        status = status or response.status_code or getattr(route, "status_code", None) or 200
        headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
        t = self._table
        await session.execute(
            t.update()
            .where(t.c.principal == self.principal, t.c.key == self.key)
            .values(status_code=status, response_body=body, response_headers=headers or None)
        )


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


async def _claim(
    session: AsyncSession, table: Table, *, principal: str, key: str, request: Request, retention: timedelta
) -> None:
    """Insert the key row, or replay/refuse when it exists. Raises `IdempotentReplay` or a problem."""
    digest = await request_fingerprint(request)
    where = (table.c.principal == principal, table.c.key == key)
    for _ in range(3):
        now = clock.now()
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
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[table.c.principal, table.c.key])
            .returning(table.c.key)
        )
        if claimed.first() is not None:
            return
        stored = select(
            table.c.request_hash, table.c.status_code, table.c.response_body, table.c.response_headers, table.c.created_at
        ).where(*where)
        row = (await session.execute(stored)).first()
        if row is None:
            continue  # the key was deleted between the two statements; claim it again
        if row.created_at < now - retention:
            # Expired, and not yet purged: forgotten, so this is a new request.
            await session.execute(table.delete().where(*where, table.c.created_at == row.created_at))
            continue
        if row.request_hash != digest:
            raise ProblemError("idempotency_key_reused")
        if row.status_code is None:
            raise RuntimeError(f"idempotency key {key!r} was committed without a response; its endpoint never saved")
        raise IdempotentReplay(row.status_code, row.response_body, row.response_headers)
    raise RuntimeError(f"idempotency key {key!r} could not be claimed")


def retention_of(request_or_app: Any) -> timedelta:
    app = getattr(request_or_app, "app", request_or_app)
    return timedelta(hours=app.state.settings.idempotency_retention_hours)


async def _idempotency(
    request: Request,
    session: DbSession,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description=(
                "Optional. A unique key (e.g. a UUID) for this create; retrying with the same key and "
                "request answers the first response again (header `Idempotent-Replayed: true`) and "
                "creates nothing. 1 to 255 printable ASCII characters. Keys belong to the signed-in "
                "caller and are kept 24 hours."
            ),
            # Documented, not enforced by FastAPI: a malformed key is our 400 idempotency_key_invalid.
            json_schema_extra={"pattern": _KEY_PATTERN, "maxLength": 255},
        ),
    ] = None,
) -> AsyncIterator[Idempotency]:
    """Claims the request's Idempotency-Key in its transaction, or replays the stored answer."""
    if idempotency_key is None:
        yield Idempotency(request, None, None, None)
        return
    if not _KEY.fullmatch(idempotency_key) or not idempotency_key.strip():
        raise ProblemError("idempotency_key_invalid")
    table = getattr(request.app.state, "idempotency_table", None)
    if table is None:
        raise RuntimeError("IdempotencyKey needs an app built by shared.app.create_service_app")
    principal = await owner_of(request)
    await _claim(session, table, principal=principal, key=idempotency_key, request=request, retention=retention_of(request))
    handle = Idempotency(request, table, principal, idempotency_key)
    yield handle
    if handle.saved is None:
        # Raising here rolls the request back, key included: better a loud 500 than a key
        # that can never replay.
        endpoint = getattr(request.scope.get("route"), "name", "?")
        raise RuntimeError(f"{endpoint} took an Idempotency-Key but never called Idempotency.save")
    # After the endpoint, so the Location and ETag it set are there to keep.
    await handle._store(session, response)


# scope="function": like DbSession, so the check after the endpoint runs before the commit.
IdempotencyKey = Annotated[Idempotency, Depends(_idempotency, scope="function")]


# ---------------------------------------------------------------- retention


async def purge_expired(engine: AsyncEngine, table: Table, *, before: datetime) -> int:
    """Delete the keys (and the answers they keep) created before `before`; returns how many."""
    async with engine.begin() as conn:
        result = await conn.execute(table.delete().where(table.c.created_at < before))
        return result.rowcount or 0


@asynccontextmanager
async def purge_periodically(app: FastAPI, *, every: float = PURGE_EVERY) -> AsyncIterator[None]:
    """While the app runs: purge expired keys at start, then about every `every` seconds.

    Every replica does it; the DELETE is cheap and safe to run twice, so there is no leader.
    """

    async def purge() -> None:
        try:
            removed = await purge_expired(app.state.engine, app.state.idempotency_table, before=clock.now() - retention_of(app))
        except Exception:
            log.exception("idempotency key purge failed")
            return
        if removed:
            log.info("expired idempotency keys purged", extra={"removed": removed})

    async def run() -> None:
        while True:
            await asyncio.sleep(every * random.uniform(0.9, 1.1))
            await purge()

    await purge()
    task = asyncio.create_task(run(), name="sprout-idempotency-purge")
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
