"""All SQL of the consent domain."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import ColumnElement, Select, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.consent.models import Consent, ConsentPurpose
from services.gateway.identity.models import GuardianLink, School, UserAccount
from services.gateway.identity.repository import as_uuid
from shared.tokens import Principal


async def get(session: AsyncSession, consent_id: uuid.UUID, *, for_update: bool = False) -> Consent | None:
    stmt = select(Consent).where(Consent.id == consent_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def open_consent(
    session: AsyncSession, student_id: uuid.UUID, purpose: ConsentPurpose, partner_id: uuid.UUID | None, *, for_update: bool = False
) -> Consent | None:
    stmt = select(Consent).where(
        Consent.student_id == student_id,
        Consent.purpose == purpose,
        Consent.partner_id.is_(None) if partner_id is None else Consent.partner_id == partner_id,
        Consent.withdrawn_at.is_(None),
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


def visible_consents(principal: Principal) -> ColumnElement[bool]:
    """admin and staff: all; a guardian: their children's; a student: their own."""
    if principal.kind != "user":
        return false()
    if principal.has_role("admin", "staff"):
        return true()
    me = as_uuid(principal.id)
    if me is None:
        return false()
    clauses = []
    if principal.has_role("guardian"):
        clauses.append(exists().where(GuardianLink.guardian_id == me, GuardianLink.student_id == Consent.student_id))
    if principal.has_role("student"):
        clauses.append(Consent.student_id == me)
    return or_(*clauses) if clauses else false()


def consents_query(
    principal: Principal, *, student_id: uuid.UUID | None, purpose: ConsentPurpose | None, in_force: bool | None
) -> Select:
    stmt = select(Consent).where(visible_consents(principal))
    if student_id:
        stmt = stmt.where(Consent.student_id == student_id)
    if purpose:
        stmt = stmt.where(Consent.purpose == purpose)
    if in_force is True:
        stmt = stmt.where(Consent.withdrawn_at.is_(None))
    elif in_force is False:
        stmt = stmt.where(Consent.withdrawn_at.is_not(None))
    return stmt


def shared_with_partner_query(partner_id: uuid.UUID, *, self_consent_born_by: date) -> Select:
    """(Consent, UserAccount, School) of each student whose data may be shared with the partner now.

    The same rule as `rules.decide` for `partner_sharing`, in SQL: an open consent naming the
    partner, given by a guardian, or by the student themself when they are old enough to
    (born on or before `self_consent_born_by`). Disabled accounts are not shared.
    """
    return (
        select(Consent, UserAccount, School)
        .join(UserAccount, UserAccount.id == Consent.student_id)
        .outerjoin(School, School.id == UserAccount.school_id)
        .where(
            Consent.purpose == ConsentPurpose.partner_sharing,
            Consent.partner_id == partner_id,
            Consent.withdrawn_at.is_(None),
            or_(Consent.guardian_id.is_not(None), UserAccount.birth_date <= self_consent_born_by),
            UserAccount.roles.contains(["student"]),
            UserAccount.disabled.is_(False),
        )
    )
