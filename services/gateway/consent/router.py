"""The consent API: guardians (and students of 14 or more) give and withdraw consent; services check it;
partner universities read what was shared with them.

A child under 14 needs a guardian's consent for participation beyond the nomination; sharing
with a partner university always needs a consent naming that partner.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query, Request

from services.gateway.consent import repository as repo
from services.gateway.consent import service
from services.gateway.consent.models import Consent, ConsentPurpose
from services.gateway.consent.schemas import ConsentCheck, ConsentIn, ConsentOut, ConsentTexts, SharedStudent
from shared.auth import require
from shared.db import DbSession
from shared.idempotency import IdempotencyKey
from shared.pagination import Page, PageParams, paginate
from shared.problems import problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

# Both routers below, under one name for the app to include.
router = APIRouter()
consents = APIRouter(prefix="/consents", tags=["consent"])
partner = APIRouter(prefix="/partner", tags=["partner"])

Consenter = Annotated[Principal, Depends(require("guardian", "student"))]
Reader = Annotated[Principal, Depends(require("admin", "staff", "guardian", "student"))]
# Services ask with their client-credentials token (shared/consent.py); staff and admin may ask too.
Checker = Annotated[Principal, Depends(require("admin", "staff", "service"))]
# A partner university: its machine clients (client credentials) and its people (role partner).
PartnerCaller = Annotated[Principal, Depends(require("partner"))]


@consents.get("/texts", response_model=ConsentTexts, summary="The consent text versions to show and agree to")
async def consent_texts(principal: Reader, request: Request) -> ConsentTexts:
    return service.texts(request.app.state.settings)


@consents.get(
    "/check", response_model=ConsentCheck,
    responses=problem_responses("student_not_found", "partner_not_found", "consent_partner_required"),
    summary="Does a consent hold? (for services: process or share a student's data only when `allowed`)",
)
async def check_consent(
    principal: Checker,
    request: Request,
    session: DbSession,
    student_id: uuid.UUID,
    purpose: ConsentPurpose,
    partner_id: Annotated[uuid.UUID | None, Query(description="Required for `partner_sharing`.")] = None,
) -> ConsentCheck:
    return await service.check(
        session=session, student_id=student_id, purpose=purpose, partner_id=partner_id, settings=request.app.state.settings
    )


@consents.post(
    "", status_code=201, response_model=ConsentOut,
    responses=problem_responses(
        "student_not_found", "partner_not_found", "consent_partner_required", "consent_text_outdated",
        "consent_already_given", "consent_not_allowed",
    ),
    summary="Give consent for a child (guardian) or for yourself (a student of 14 or more)",
)
async def give_consent(
    principal: Consenter, request: Request, body: ConsentIn, session: DbSession, idempotency: IdempotencyKey
) -> ConsentOut:
    consent = await service.give(session=session, principal=principal, data=body, settings=request.app.state.settings)
    return await idempotency.save(service.consent_out(consent))


@consents.post(
    "/{consent_id}/withdraw", response_model=ConsentOut,
    responses=problem_responses("consent_not_found", "consent_already_withdrawn", "consent_not_allowed"),
    summary="Withdraw a consent (a linked guardian, or the student if 14 or older)",
)
async def withdraw_consent(principal: Consenter, request: Request, consent_id: uuid.UUID, session: DbSession) -> ConsentOut:
    consent = await service.withdraw(
        session=session, principal=principal, consent_id=consent_id, settings=request.app.state.settings
    )
    return service.consent_out(consent)


@consents.get(
    "", response_model=Page[ConsentOut],
    summary="List consents, newest first (guardians: their children's; students: their own; admin and staff: all)",
)
async def list_consents(
    principal: Reader,
    session: DbSession,
    page: PageParams,
    student_id: uuid.UUID | None = None,
    purpose: ConsentPurpose | None = None,
    in_force: bool | None = None,
) -> Page[ConsentOut]:
    stmt = repo.consents_query(principal, student_id=student_id, purpose=purpose, in_force=in_force)
    return await paginate(
        session, stmt, order_by=(Consent.given_at.desc(), Consent.id.desc()), params=page, item=service.consent_out
    )


@consents.get("/{consent_id}", response_model=ConsentOut, responses=problem_responses("consent_not_found"), summary="Read a consent")
async def get_consent(principal: Reader, consent_id: uuid.UUID, session: DbSession) -> ConsentOut:
    return service.consent_out(await service.visible(session=session, principal=principal, consent_id=consent_id))


# ---------------------------------------------------------------- the partner API

_PARTNER_DOC = """For partner universities. Sign in with your machine client (`grant_type=client_credentials`)
or as a person of your university with role `partner`; you see only students who consented to
share their data with your university, by a consent naming it that is still in force (given by
a guardian, or by the student themself from 14). The profile is name, school and grade, never
an ID number, phone or address. Every profile you read is recorded in the programme's access log."""


@partner.get(
    "/students", response_model=Page[SharedStudent],
    summary="Students who consented to share their data with your university, newest consent first",
    description=_PARTNER_DOC + "\n\nA student who withdraws consent drops out of this list at once.",
)
async def list_shared_students(
    principal: PartnerCaller, request: Request, session: DbSession, page: PageParams
) -> Page[SharedStudent]:
    stmt = service.shared_query(principal, request.app.state.settings)
    found = await paginate(
        session, stmt, order_by=(Consent.given_at.desc(), Consent.id.desc()), params=page,
        item=lambda row: service.shared_student(row["Consent"], row["UserAccount"], row["School"]),
    )
    await service.log_shared(session, principal, found.items)
    return found


@partner.get(
    "/students/{student_id}", response_model=SharedStudent,
    responses=problem_responses("student_not_found", "consent_required"),
    summary="One student's shareable profile (403 `consent_required` without their consent to share with you)",
    description=_PARTNER_DOC
    + "\n\nA student without that consent is refused with 403 `consent_required`, whose `detail` names the missing consent.",
)
async def get_shared_student(
    principal: PartnerCaller, request: Request, student_id: uuid.UUID, session: DbSession
) -> SharedStudent:
    return await service.shared_profile(
        session=session, principal=principal, student_id=student_id, settings=request.app.state.settings
    )


router.include_router(consents)
router.include_router(partner)
