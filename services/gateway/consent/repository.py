"""All SQL of the consent domain."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.gateway.consent.models import Consent, ConsentEnd, ConsentPurpose
from services.gateway.directory import publisher as directory
from services.gateway.identity.models import GuardianLink, School, UserAccount
from shared.ids import as_uuid
from shared.tokens import Principal


async def get(session: AsyncSession, consent_id: uuid.UUID, *, for_update: bool = False, for_share: bool = False) -> Consent | None:
    stmt = select(Consent).where(Consent.id == consent_id)
    if for_update or for_share:
        stmt = stmt.with_for_update(read=not for_update)
    return (await session.execute(stmt)).scalar_one_or_none()


async def open_consent(
    session: AsyncSession, student_id: uuid.UUID, purpose: ConsentPurpose, partner_id: uuid.UUID | None, *, for_update: bool = False
) -> Consent | None:
    stmt = select(Consent).where(
        Consent.student_id == student_id,
        Consent.purpose == purpose,
        Consent.partner_id.is_(None) if partner_id is None else Consent.partner_id == partner_id,
        Consent.ended_at.is_(None),
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


# ---------------------------------------------------------------- who is a guardian now


def _in_office(guardian: type[UserAccount], guardian_id: ColumnElement | uuid.UUID, student_id: ColumnElement | uuid.UUID) -> list:
    return [
        GuardianLink.guardian_id == guardian_id,
        GuardianLink.student_id == student_id,
        guardian.id == GuardianLink.guardian_id,
        guardian.disabled.is_(False),
        guardian.roles.contains(["guardian"]),
    ]


def guardian_in_office(guardian_id: ColumnElement | uuid.UUID, student_id: ColumnElement | uuid.UUID) -> ColumnElement[bool]:
    """Whether `guardian_id` is the student's guardian now: linked to them, holding the guardian
    role, with an enabled account (what rules.OpenConsent.guardian_in_office says)."""
    return exists().where(*_in_office(aliased(UserAccount), guardian_id, student_id))


async def is_guardian_in_office(
    session: AsyncSession, guardian_id: uuid.UUID | None, student_id: uuid.UUID, *, lock: bool = False
) -> bool:
    """`guardian_in_office` for one guardian. With `lock`, their link and account rows are held
    (FOR SHARE) to the end of the transaction, so an unlink or disable running meanwhile waits
    for it, and then ends what it gave."""
    if guardian_id is None:
        return False
    if not lock:
        return bool(await session.scalar(select(guardian_in_office(guardian_id, student_id))))
    stmt = select(GuardianLink.guardian_id).where(*_in_office(UserAccount, guardian_id, student_id)).with_for_update(read=True)
    return (await session.execute(stmt)).first() is not None


def giver_qualifies(*, self_consent_born_by: date) -> ColumnElement[bool]:
    """The rule of `shared.consent_rules.decide` for who gave a consent, on Consent joined to its student
    (UserAccount): a guardian in office, or the student themself old enough to consent (born on
    or before `self_consent_born_by`)."""
    return or_(
        and_(Consent.guardian_id.is_not(None), guardian_in_office(Consent.guardian_id, Consent.student_id)),
        and_(Consent.guardian_id.is_(None), UserAccount.birth_date <= self_consent_born_by),
    )


async def end_consents_given_by(
    session: AsyncSession, guardian_id: uuid.UUID, *, reason: ConsentEnd, by: str | None, at: datetime,
    student_id: uuid.UUID | None = None,
) -> int:
    """End the open consents `guardian_id` gave (for `student_id` only, when given), and publish
    each one's end (identity.consent.ended); how many."""
    stmt = (
        update(Consent)
        .where(Consent.guardian_id == guardian_id, Consent.ended_at.is_(None))
        .values(ended_at=func.greatest(at, Consent.given_at), end_reason=reason, ended_by=by[:100] if by else None)
        .returning(Consent)
        .execution_options(synchronize_session="fetch")
    )
    if student_id is not None:
        stmt = stmt.where(Consent.student_id == student_id)
    ended = list((await session.execute(stmt)).scalars())
    await directory.ended(session, ended)
    return len(ended)


# ---------------------------------------------------------------- lists


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
        stmt = stmt.where(Consent.ended_at.is_(None))
    elif in_force is False:
        stmt = stmt.where(Consent.ended_at.is_not(None))
    return stmt


def shared_with_partner_query(partner_id: uuid.UUID, *, self_consent_born_by: date) -> Select:
    """(Consent, UserAccount, School) of each student whose data may be shared with the partner now.

    The rule of `shared.consent_rules.decide` for `partner_sharing`, in SQL: an open consent naming the partner
    whose giver qualifies (`giver_qualifies`). Disabled accounts are not shared. The consent rows
    are held (FOR SHARE) to the end of the transaction, so a consent ending meanwhile ends after
    the share is logged, never before: no share is logged under an ended consent.
    """
    return (
        select(Consent, UserAccount, School)
        .join(UserAccount, UserAccount.id == Consent.student_id)
        .outerjoin(School, School.id == UserAccount.school_id)
        .where(
            Consent.purpose == ConsentPurpose.partner_sharing,
            Consent.partner_id == partner_id,
            Consent.ended_at.is_(None),
            giver_qualifies(self_consent_born_by=self_consent_born_by),
            UserAccount.roles.contains(["student"]),
            UserAccount.disabled.is_(False),
        )
        .with_for_update(read=True, of=Consent)
    )
