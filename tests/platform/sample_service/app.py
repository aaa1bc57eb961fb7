"""A small test-only service built the way every Sprout service is, to exercise the shared HTTP helpers.

It has its own schema (`platform_sample`) and alembic tree, migrated into the test database
like a real service's, so pagination and idempotency run against real tables.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from fastapi import Depends, FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import DateTime, Integer, String, UniqueConstraint, Uuid, func, select
from sqlalchemy.orm import Mapped, mapped_column

from shared.app import create_service_app
from shared.auth import Public, require
from shared.catalogue import codes, define
from shared.db import DbSession, declarative_base
from shared.etag import PRECONDITION_PROBLEMS, IfMatch, check_if_match, set_etag
from shared.idempotency import IdempotencyKey, idempotency_table
from shared.migrations import MigrationTree
from shared.pagination import Page, PageParams, paginate
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter
from shared.settings import BaseServiceSettings
from shared.strict import RequestModel
from shared.tokens import Principal
from shared.unique import flush_unique, insert_unique
from tests.platform.sample_service.scores import scores

SCHEMA = "platform_sample"
Base = declarative_base(SCHEMA)
idempotency_keys = idempotency_table(Base.metadata)
SAMPLE_TREE = MigrationTree(SCHEMA, Path(__file__).parent / "migrations")

# What an unhandled error's text would leak if it reached the body.
SECRET = "password=hunter2 at db-primary.internal"


class Widget(Base):
    __tablename__ = "widget"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    batch: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(100))
    rank: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Gadget(Base):
    """A record with two unique constraints of different meaning, as a domain service's tables have."""

    __tablename__ = "gadget"
    __table_args__ = (UniqueConstraint("code"), UniqueConstraint("batch", "name"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    batch: Mapped[uuid.UUID] = mapped_column(Uuid)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


# The sample's own codes, registered the way a service's catalogue module registers them.
codes({
    "gadget_code_taken": define(
        409, "Gadget code taken", "部件编号已被占用",
        "A gadget with the code {gadget_code} exists already.", "编号为 {gadget_code} 的部件已存在。",
    ),
    "gadget_name_taken": define(
        409, "Gadget name taken", "部件名称已被占用",
        "Batch {batch} has a gadget named {name} already.", "批次 {batch} 中已有名为 {name} 的部件。",
    ),
})
# The problem a unique violation of each of the gadget table's constraints is.
GADGET_CONSTRAINTS = {"uq_gadget_code": "gadget_code_taken", "uq_gadget_batch_name": "gadget_name_taken"}


class SampleSettings(BaseServiceSettings):
    service_name: ClassVar[str] = "sample"
    default_port: ClassVar[int] = 0

    # The score upload (scores.py).
    scores_max_bytes: int = Field(default=65_536, ge=1024)
    scores_max_rows: int = Field(default=50, ge=1)


class WidgetIn(RequestModel):
    batch: uuid.UUID
    name: str = Field(min_length=1, max_length=100)
    rank: int = Field(ge=0, le=1000)
    # Keeps the create's transaction (and so its key) open, for the concurrent-retry story.
    hold_seconds: float = Field(default=0, ge=0, le=2)


class WidgetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    batch: uuid.UUID
    name: str
    rank: int
    created_at: datetime


class GadgetIn(RequestModel):
    batch: uuid.UUID
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=100)


class GadgetPatch(RequestModel):
    name: str = Field(min_length=1, max_length=100)


class GadgetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    batch: uuid.UUID
    code: str
    name: str
    version: int


class WidgetSummary(BaseModel):
    id: uuid.UUID
    rank: int


ORDERS = {
    "rank": (Widget.rank, Widget.id),
    "-rank": (Widget.rank.desc(), Widget.id.desc()),
    "-rank,id": (Widget.rank.desc(), Widget.id),
    "created": (Widget.created_at, Widget.id),
}


router = APIRouter(prefix="/widgets", tags=["widgets"], dependencies=[Public])


@router.get("", response_model=Page[WidgetOut], summary="List widgets of a batch")
async def list_widgets(
    session: DbSession,
    page: PageParams,
    batch: uuid.UUID,
    order: Annotated[Literal["rank", "-rank", "-rank,id", "created"], Query()] = "rank",
) -> Page[WidgetOut]:
    stmt = select(Widget).where(Widget.batch == batch)
    return await paginate(session, stmt, order_by=ORDERS[order], params=page, item=WidgetOut.model_validate)


@router.get("/summaries", response_model=Page[WidgetSummary], summary="List widget ids and ranks of a batch")
async def list_widget_summaries(session: DbSession, page: PageParams, batch: uuid.UUID) -> Page[WidgetSummary]:
    stmt = select(Widget.id, Widget.rank).where(Widget.batch == batch)
    return await paginate(session, stmt, order_by=(Widget.rank.desc(), Widget.id), params=page)


@router.get("/{widget_id}", summary="One widget", responses=problem_responses("not_found"))
async def get_widget(widget_id: uuid.UUID, request: Request, session: DbSession) -> WidgetOut:
    widget = await session.get(Widget, widget_id)
    if widget is None:
        raise ProblemError("not_found", path=request.url.path)
    return WidgetOut.model_validate(widget)


@router.post("", status_code=201, summary="Create a widget")
async def create_widget(
    body: WidgetIn, request: Request, session: DbSession, idempotency: IdempotencyKey
) -> WidgetOut:
    widget = Widget(batch=body.batch, name=body.name, rank=body.rank)
    session.add(widget)
    await session.flush()
    if body.hold_seconds:
        await asyncio.sleep(body.hold_seconds)
    if request.app.state.failing_creates > 0:
        request.app.state.failing_creates -= 1
        raise RuntimeError("the create failed after writing its row")
    return await idempotency.save(WidgetOut.model_validate(widget))


# The access rule is a parameter after the key here, so FastAPI resolves the key first: the
# key's owner must still be the verified caller.
owned = APIRouter(prefix="/owned-widgets", tags=["widgets"])


@owned.post("", status_code=201, summary="Create a widget as staff")
async def create_owned_widget(
    body: WidgetIn,
    session: DbSession,
    idempotency: IdempotencyKey,
    response: Response,
    principal: Annotated[Principal, Depends(require("staff", "coordinator"))],
) -> WidgetOut:
    widget = Widget(batch=body.batch, name=f"{body.name} of {principal.id}", rank=body.rank)
    session.add(widget)
    await session.flush()
    response.headers["Location"] = f"/widgets/{widget.id}"
    response.headers["ETag"] = f'"{widget.rank}"'
    return await idempotency.save(WidgetOut.model_validate(widget))


gadgets = APIRouter(prefix="/gadgets", tags=["gadgets"], dependencies=[Public])


@gadgets.post(
    "", status_code=201, response_model=GadgetOut, responses=problem_responses("gadget_code_taken", "gadget_name_taken"),
    summary="Create a gadget (its code unique, its name unique in its batch)",
)
async def create_gadget(body: GadgetIn, session: DbSession, response: Response) -> GadgetOut:
    gadget = Gadget(id=uuid.uuid4(), batch=body.batch, code=body.code, name=body.name)
    await insert_unique(
        session, gadget, "gadget_code_taken", constraints=GADGET_CONSTRAINTS, gadget_code=body.code, batch=body.batch,
        name=body.name,
    )
    set_etag(response, gadget.version)
    return GadgetOut.model_validate(gadget)


async def _gadget(session: DbSession, gadget_id: uuid.UUID, path: str, *, for_update: bool = False) -> Gadget:
    gadget = await session.get(Gadget, gadget_id, with_for_update=for_update)
    if gadget is None:
        raise ProblemError("not_found", path=path)
    return gadget


@gadgets.get("/{gadget_id}", response_model=GadgetOut, responses=problem_responses("not_found"), summary="One gadget, with its ETag")
async def get_gadget(gadget_id: uuid.UUID, request: Request, session: DbSession, response: Response) -> GadgetOut:
    gadget = await _gadget(session, gadget_id, request.url.path)
    set_etag(response, gadget.version)
    return GadgetOut.model_validate(gadget)


@gadgets.patch(
    "/{gadget_id}", response_model=GadgetOut,
    responses=problem_responses("not_found", "gadget_name_taken", *PRECONDITION_PROBLEMS),
    summary="Rename a gadget (If-Match required)",
)
async def rename_gadget(
    gadget_id: uuid.UUID, body: GadgetPatch, request: Request, session: DbSession, response: Response,
    if_match: IfMatch = None,
) -> GadgetOut:
    # The row lock makes "check the version, then write" one step against a concurrent rename.
    gadget = await _gadget(session, gadget_id, request.url.path, for_update=True)
    check_if_match(if_match, gadget.version)
    gadget.name = body.name
    await flush_unique(session, "gadget_name_taken", constraints=GADGET_CONSTRAINTS, batch=gadget.batch, name=body.name)
    set_etag(response, gadget.version)
    return GadgetOut.model_validate(gadget)


failures = APIRouter(prefix="/failures", tags=["failures"], dependencies=[Public])


@failures.get("/unhandled", summary="A bug: raises an unexpected exception")
async def unhandled() -> dict:
    raise RuntimeError(f"could not connect: {SECRET}")


@failures.post("/forgets-to-save", status_code=201, summary="A bug: takes an Idempotency-Key but never saves")
async def forgets_to_save(body: WidgetIn, session: DbSession, idempotency: IdempotencyKey) -> WidgetOut:
    widget = Widget(batch=body.batch, name=body.name, rank=body.rank)
    session.add(widget)
    await session.flush()
    return WidgetOut.model_validate(widget)


def create_app(settings: SampleSettings | None = None, *, migration_tree: MigrationTree = SAMPLE_TREE) -> FastAPI:
    settings = settings or SampleSettings()
    app = create_service_app(
        settings,
        title="Sprout sample (tests only)",
        description="Exercises the shared HTTP helpers.",
        routers=[router, owned, gadgets, scores, failures],
        migration_tree=migration_tree,
    )
    # How many of the next creates fail after writing, to prove a failed create leaves no key.
    app.state.failing_creates = 0
    return app


def widget_rows(batch: uuid.UUID, n: int, *, base: datetime | None = None) -> list[Widget]:
    """`n` widgets of one batch whose ranks and creation times tie in groups, to test stable order."""
    base = base or datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
    return [
        Widget(id=uuid.uuid4(), batch=batch, name=f"w{i}", rank=i % 3, created_at=base + timedelta(seconds=i % 4))
        for i in range(n)
    ]
