"""Keeping the read model current: the event consumer, and the resync from the gateway's snapshot.

The consumer applies each directory event (shared/events/contracts/identity.py) as it
arrives. A service whose subscription was registered after people already existed (a new
service, a restored database, a new replica set) would miss what came before, so it loads
the gateway's current state instead: `resync` reads the snapshot (`GET /directory/...` at the
gateway, paginated, with the service's own client-credentials token) and then the events
carry on from there. It runs on first start when the read model was never loaded (the
service reports not ready until it has been) and by hand with `sprout directory resync SERVICE`.

Nothing missed, nothing out of order:

- the consumer's subscription is registered before the snapshot is read, so every change
  committed after a page was read reaches the consumer as an event;
- the resync holds the directory's lock (shared/directory/store.py) from before the first
  page until it commits, so no event is applied while it runs: the events that arrive wait,
  then apply on top of it, each only over an older version;
- what the read model holds and the snapshot does not (a restored database's people who no
  longer exist, links removed, consents ended while the consumer was not subscribed) is
  removed, links and consents kept as ended so a late event cannot bring them back.

While a resync runs, the consumer waits for it (its batch holds its deliveries): a resync of
the city's whole directory takes seconds, and its events apply right after.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import ARRAY, bindparam, delete, select, text, update
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from shared.directory.store import apply, group_by_kind, lock_exclusive, lock_shared
from shared.events.contracts import identity
from shared.events.contracts.identity import (
    ConsentRecord,
    DirectoryRecord,
    GuardianLinkRecord,
    PartnerRecord,
    PersonRecord,
    SchoolRecord,
)
from shared.problems import ProblemError
from shared.service_client import ServiceTokenError, ServiceTokenProvider, with_one_retry
from shared.settings import BaseServiceSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from shared.directory import Directory
    from shared.events.worker import Consumer, EventEnvelope

log = logging.getLogger(__name__)

# The gateway's snapshot: each list and the record its items are.
SNAPSHOT: tuple[tuple[str, type[DirectoryRecord]], ...] = (
    ("/directory/schools", SchoolRecord),
    ("/directory/partners", PartnerRecord),
    ("/directory/people", PersonRecord),
    ("/directory/guardian-links", GuardianLinkRecord),
    ("/directory/consents", ConsentRecord),
)


class ResyncError(RuntimeError):
    """The snapshot could not be read (gateway down, no machine client, a refusal); nothing was changed."""


# ---------------------------------------------------------------- the consumer


# Deliveries per claim: an import of a school's students is a few thousand events, applied
# a few hundred to a statement.
BATCH_SIZE = 500


def make_consumer(directory: Directory) -> Consumer:
    from shared.events.worker import Consumer

    def record_of(envelope: EventEnvelope) -> DirectoryRecord:
        if not isinstance(envelope.payload, DirectoryRecord):
            # A version of the contract this process does not know: retried (and, in the end,
            # dead-lettered for `sprout events replay`) until a release that knows it is out.
            raise RuntimeError(f"{envelope.type} v{envelope.version} has no contract in this release")
        return envelope.payload

    async def handle(session: AsyncSession, envelope: EventEnvelope) -> None:
        record = record_of(envelope)
        await lock_shared(session, directory.schema)
        await apply(session, directory.tables, [record])

    async def handle_many(session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
        # Versions make the order within the batch irrelevant: one statement per kind.
        records = [record_of(e) for e in envelopes]
        await lock_shared(session, directory.schema)
        for kind in group_by_kind(records).values():
            await apply(session, directory.tables, kind)

    return Consumer(
        f"{directory.schema}.directory", {t: handle for t in identity.RECORDS},
        handle_many=handle_many, batch_size=BATCH_SIZE,
    )


# ---------------------------------------------------------------- resync


@dataclass
class ResyncReport:
    loaded: dict[str, int] = field(default_factory=dict)  # records read, per list
    removed: dict[str, int] = field(default_factory=dict)  # rows the snapshot no longer has, per table
    pages: int = 0
    seconds: float = 0.0
    skipped: bool = False  # only_if_empty, and the read model was loaded already

    def as_dict(self) -> dict[str, Any]:
        return {
            "loaded": self.loaded, "removed": self.removed, "pages": self.pages,
            "seconds": round(self.seconds, 3), "skipped": self.skipped,
        }


async def _pages(http: httpx.AsyncClient, path: str, limit: int) -> AsyncIterator[list[dict[str, Any]]]:
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        try:
            answer = await with_one_retry(lambda: http.get(path, params=params))
        except (httpx.HTTPError, ServiceTokenError) as exc:
            raise ResyncError(f"GET {path}: {exc}") from exc
        if answer.status_code != 200:
            raise ResyncError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
        body = answer.json()
        yield body["items"]
        cursor = body.get("next_cursor")
        if not cursor:
            return


async def _remove_absent(conn: AsyncConnection, directory: Directory, seen: dict[type, list[tuple]]) -> dict[str, int]:
    """What the snapshot no longer has: people, schools and partners deleted; links and consents ended."""
    t = directory.tables
    removed: dict[str, int] = {}

    def ids(kind: type) -> Any:
        return bindparam(f"seen_{kind.__name__}", [k[0] for k in seen[kind]], type_=ARRAY(UUID(as_uuid=True)))

    for kind, table, column in (
        (PersonRecord, t.person, t.person.c.person_id),
        (SchoolRecord, t.school, t.school.c.school_id),
        (PartnerRecord, t.partner, t.partner.c.partner_id),
    ):
        result = await conn.execute(delete(table).where(~(column == ids(kind).any_())))
        removed[table.name] = result.rowcount
    # Links: those whose (student, guardian) pair the snapshot does not have end.
    link = t.guardian_link
    pairs = seen[GuardianLinkRecord]
    result = await conn.execute(
        text(
            f"UPDATE {directory.schema}.{link.name} AS l SET linked = false, updated_at = now() "
            "WHERE l.linked AND NOT EXISTS (SELECT 1 FROM unnest(:students, :guardians) AS p(student_id, guardian_id) "
            "WHERE p.student_id = l.student_id AND p.guardian_id = l.guardian_id)"
        ).bindparams(
            bindparam("students", [p[0] for p in pairs], type_=ARRAY(UUID(as_uuid=True))),
            bindparam("guardians", [p[1] for p in pairs], type_=ARRAY(UUID(as_uuid=True))),
        )
    )
    removed[link.name] = result.rowcount
    consent = t.consent
    result = await conn.execute(
        update(consent)
        .where(consent.c.ended_at.is_(None), ~(consent.c.consent_id == ids(ConsentRecord).any_()))
        .values(ended_at=text("now()"), updated_at=text("now()"))
    )
    removed[consent.name] = result.rowcount
    return removed


def _key(record: DirectoryRecord) -> tuple:
    """The record's primary key in its table."""
    if isinstance(record, GuardianLinkRecord):
        return (record.student_id, record.guardian_id)
    for name in ("person_id", "school_id", "partner_id", "consent_id"):
        if name in type(record).model_fields:
            return (getattr(record, name),)
    raise TypeError(type(record).__qualname__)


async def resync(
    engine: AsyncEngine,
    directory: Directory,
    settings: BaseServiceSettings,
    *,
    only_if_empty: bool = False,
    page_size: int | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ResyncReport:
    """Load the gateway's snapshot into the read model, in one transaction under the directory's lock."""
    from shared.events.worker import register_subscriptions

    started = time.monotonic()
    report = ResyncReport()
    # From here on every change reaches the consumer as an event (idempotent).
    await register_subscriptions(engine, [directory.consumer])
    try:
        tokens = ServiceTokenProvider.from_settings(settings)
    except ServiceTokenError as exc:
        raise ResyncError(str(exc)) from exc
    t = directory.tables
    async with httpx.AsyncClient(
        base_url=settings.gateway_url.rstrip("/"), auth=tokens, timeout=15.0, transport=transport
    ) as http:
        try:
            async with engine.begin() as conn:
                await lock_exclusive(conn, directory.schema)
                if only_if_empty and (await conn.execute(select(t.sync.c.id))).first() is not None:
                    report.skipped = True
                    return report
                seen: dict[type, list[tuple]] = {}
                for path, kind in SNAPSHOT:
                    keys = seen.setdefault(kind, [])
                    count = 0
                    async for items in _pages(http, path, page_size or settings.directory_page_size):
                        report.pages += 1
                        records = [kind.model_validate(item) for item in items]
                        await apply(conn, t, records)
                        keys.extend(_key(r) for r in records)
                        count += len(records)
                    report.loaded[path.rsplit("/", 1)[1]] = count
                report.removed = await _remove_absent(conn, directory, seen)
                total = sum(report.loaded.values())
                stmt = pg_insert(t.sync).values(id=1, synced_at=text("now()"), records=total)
                await conn.execute(
                    stmt.on_conflict_do_update(index_elements=["id"], set_={"synced_at": text("now()"), "records": total})
                )
        finally:
            await tokens.aclose()
    report.seconds = time.monotonic() - started
    log.info("directory resynced", extra={"schema": directory.schema, **report.as_dict()})
    return report


async def is_loaded(engine: AsyncEngine, directory: Directory) -> bool:
    async with engine.connect() as conn:
        return (await conn.execute(select(directory.tables.sync.c.id))).first() is not None


# ---------------------------------------------------------------- first start


@asynccontextmanager
async def bootstrap(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan: when the read model was never loaded, resync in the background, retrying until
    it succeeds; `/readyz` reports not ready until then, so no request is answered from an
    empty directory."""
    directory: Directory = app.state.directory
    settings: BaseServiceSettings = app.state.settings
    engine: AsyncEngine = app.state.engine
    state: dict[str, Any] = {"loaded": False, "error": None}

    async def check(_app: FastAPI) -> str:
        if state["loaded"]:
            return "ok"
        raise ProblemError("not_ready", reason=f"the directory is loading from the gateway ({state['error'] or 'first load'})")

    async def load() -> None:
        wait = 0.5
        while True:
            try:
                if not await is_loaded(engine, directory):
                    await resync(engine, directory, settings, only_if_empty=True)
                state["loaded"], state["error"] = True, None
                return
            except (ResyncError, OSError, SQLAlchemyError) as exc:
                state["error"] = str(exc)[:300]
                log.warning("directory not loaded yet; retrying", extra={"error": state["error"], "retry_in": wait})
            await asyncio.sleep(wait)
            wait = min(wait * 2, 30.0)

    task: asyncio.Task | None = None
    if settings.directory_bootstrap:
        app.state.readiness_checks["directory"] = check
        task = asyncio.create_task(load(), name=f"sprout-directory-bootstrap-{directory.schema}")
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
