"""The directory snapshot: the current people, schools, partners, guardian links and consents, for resync.

A service keeps its own copy of the directory (its read model, shared/directory/), built
from the gateway's `identity.*` events. When that copy starts empty (a new service, a
restored database, a new replica set) or an operator runs `sprout directory resync
SERVICE`, the service loads these lists with its own client-credentials token, page by
page, then goes on from the events. Each item is the record its events carry, with the
same `version`, so a read model applies a snapshot item and an event alike: only when the
version is larger than the one it holds.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel
from sqlalchemy import select

from services.gateway.consent.models import Consent
from services.gateway.directory import records
from shared import clock
from services.gateway.identity.models import GuardianLink, Partner, School, UserAccount
from shared.auth import require
from shared.db import DbSession
from shared.events.contracts.identity import ConsentRecord, GuardianLinkRecord, PartnerRecord, PersonRecord, SchoolRecord
from shared.pagination import Page, PageParams, paginate
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter(prefix="/directory", tags=["directory"])

# Our own services' machine clients, and admin (to look, or to resync by hand).
Reader = Annotated[Principal, Depends(require("admin", "service"))]

_SNAPSHOT = (
    "For a service's read model of the directory (shared/directory/): loaded when it starts "
    "empty and by `sprout directory resync SERVICE`, then kept current by the `identity.*` "
    "events. Each item is the record those events carry, `version` included: apply an item "
    "only when its version is larger than the one held. Follow `next_cursor` to the end."
)

_EXAMPLE_IDS = {
    "person": uuid.UUID("5f0c6a52-3b0e-4c47-9a60-2f7a1d3c9e01"),
    "guardian": uuid.UUID("7d9e1b24-8c51-4f0a-b3d6-6e2f4a8b1c02"),
    "school": uuid.UUID("2b7c4e19-6d3a-4b85-9f10-8a5e3c7d2f03"),
    "partner": uuid.UUID("9a3f5d71-1e6b-4c29-8d47-3b8f6e2a4c04"),
    "consent": uuid.UUID("4e8b2c63-9f1d-4a57-b6e0-1c3d7f9a5b05"),
}


def _example(item: BaseModel) -> dict[str, Any]:
    """The OpenAPI example of a page holding `item` (a real record, so it cannot drift from the model)."""
    page = {"items": [item.model_dump(mode="json")], "next_cursor": None}
    return {200: {"content": {"application/json": {"example": page}}}}


@router.get(
    "/people", response_model=Page[PersonRecord], summary="The directory's people, by id",
    description=_SNAPSHOT + " Every account, disabled ones too (`disabled` says so).",
    responses=_example(PersonRecord(
        version=1042, person_id=_EXAMPLE_IDS["person"], roles=["student"], display_name="林小雨",
        school_id=_EXAMPLE_IDS["school"], grade=7, birth_year=2013, under_14=True,
    )),
)
async def directory_people(principal: Reader, session: DbSession, page: PageParams) -> Page[PersonRecord]:
    on = clock.today()
    stmt = select(UserAccount).where(UserAccount.directory_version > 0)
    return await paginate(
        session, stmt, order_by=(UserAccount.id,), params=page, item=lambda user: records.person_record(user, on=on)
    )


@router.get(
    "/schools", response_model=Page[SchoolRecord], summary="The directory's schools, by id",
    description=_SNAPSHOT + " Disabled schools too.",
    responses=_example(SchoolRecord(
        version=17, school_id=_EXAMPLE_IDS["school"], name="泉州第五中学", district="鲤城区", level="middle",
    )),
)
async def directory_schools(principal: Reader, session: DbSession, page: PageParams) -> Page[SchoolRecord]:
    stmt = select(School).where(School.directory_version > 0)
    return await paginate(session, stmt, order_by=(School.id,), params=page, item=records.school_record)


@router.get(
    "/partners", response_model=Page[PartnerRecord], summary="The directory's partner universities, by id",
    description=_SNAPSHOT,
    responses=_example(PartnerRecord(version=23, partner_id=_EXAMPLE_IDS["partner"], name="厦门大学")),
)
async def directory_partners(principal: Reader, session: DbSession, page: PageParams) -> Page[PartnerRecord]:
    stmt = select(Partner).where(Partner.directory_version > 0)
    return await paginate(session, stmt, order_by=(Partner.id,), params=page, item=records.partner_record)


@router.get(
    "/guardian-links", response_model=Page[GuardianLinkRecord],
    summary="The directory's guardian links, by student and guardian",
    description=_SNAPSHOT + " The links that exist now (an unlinked guardian is not listed).",
    responses=_example(GuardianLinkRecord(
        version=1043, guardian_id=_EXAMPLE_IDS["guardian"], student_id=_EXAMPLE_IDS["person"], relation="mother",
    )),
)
async def directory_guardian_links(principal: Reader, session: DbSession, page: PageParams) -> Page[GuardianLinkRecord]:
    stmt = select(GuardianLink).where(GuardianLink.directory_version > 0)
    return await paginate(
        session, stmt, order_by=(GuardianLink.student_id, GuardianLink.guardian_id), params=page,
        item=records.guardian_link_record,
    )


@router.get(
    "/consents", response_model=Page[ConsentRecord], summary="The directory's consents in force, by id",
    description=_SNAPSHOT + " Only consents in force (not ended); whether one holds for a purpose is the read model's question.",
    responses=_example(ConsentRecord(
        version=1107, consent_id=_EXAMPLE_IDS["consent"], student_id=_EXAMPLE_IDS["person"], purpose="participation",
        guardian_id=_EXAMPLE_IDS["guardian"], given_at=datetime(2026, 9, 1, 2, 30, tzinfo=UTC),
    )),
)
async def directory_consents(principal: Reader, session: DbSession, page: PageParams) -> Page[ConsentRecord]:
    stmt = select(Consent).where(Consent.ended_at.is_(None), Consent.directory_version > 0)
    return await paginate(session, stmt, order_by=(Consent.id,), params=page, item=records.consent_record)
