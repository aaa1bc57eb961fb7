"""Giving, withdrawing and checking consents."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.consent import repository as repo
from shared import consent_rules as rules
from services.gateway.consent.models import Consent, ConsentEnd, ConsentPurpose
from services.gateway.consent.schemas import ConsentCheck, ConsentIn, ConsentOut, ConsentTexts, SharedStudent
from services.gateway.directory import publisher as directory
from services.gateway.identity import repository as identity_repo
from services.gateway.identity import service as identity
from services.gateway.identity.models import PiiAccessLog, School, UserAccount
from shared import clock
from shared.context import request_id_var
from shared.ids import as_uuid
from shared.problems import ProblemError
from shared.tokens import Principal
from shared.unique import insert_unique

if TYPE_CHECKING:
    from services.gateway.settings import GatewaySettings


def texts(settings: GatewaySettings) -> ConsentTexts:
    return ConsentTexts(
        participation=settings.consent_text_version_participation,
        partner_sharing=settings.consent_text_version_partner_sharing,
        consent_age=settings.consent_age,
    )


def consent_out(consent: Consent) -> ConsentOut:
    return ConsentOut(
        id=consent.id, student_id=consent.student_id, guardian_id=consent.guardian_id, purpose=consent.purpose,
        partner_id=consent.partner_id, text_version=consent.text_version, given_at=consent.given_at,
        in_force=consent.ended_at is None, ended_at=consent.ended_at, end_reason=consent.end_reason,
        ended_by=consent.ended_by,
    )


def _end(consent: Consent, reason: ConsentEnd, by: Principal) -> None:
    consent.ended_at = max(clock.now(), consent.given_at)
    consent.end_reason = reason
    consent.ended_by = by.id[:100]


async def _student(session: AsyncSession, student_id: uuid.UUID) -> UserAccount:
    student = await identity_repo.get_user(session, student_id)
    if student is None or "student" not in student.roles:
        raise ProblemError("student_not_found", student_id=student_id)
    return student


async def _check_purpose(session: AsyncSession, purpose: ConsentPurpose, partner_id: uuid.UUID | None) -> None:
    if (purpose is ConsentPurpose.partner_sharing) != (partner_id is not None):
        raise ProblemError("consent_partner_required")
    if partner_id is not None:
        await identity.get_partner(session=session, partner_id=partner_id)


async def _acting_guardian(session: AsyncSession, principal: Principal, student_id: uuid.UUID) -> uuid.UUID | None:
    """The caller's user id when they are the student's guardian now (linked, enabled, with the
    role: a token outlives none of these). Their link and account stay locked until this
    transaction ends, so an unlink or disable meanwhile waits, and then ends what they gave."""
    me = as_uuid(principal.id) if principal.kind == "user" else None
    if principal.has_role("guardian") and await repo.is_guardian_in_office(session, me, student_id, lock=True):
        return me
    return None


async def give(*, session: AsyncSession, principal: Principal, data: ConsentIn, settings: GatewaySettings) -> Consent:
    """A linked guardian consents for their child; a student of 14 or more may consent for themself."""
    student = await _student(session, data.student_id)
    await _check_purpose(session, data.purpose, data.partner_id)
    guardian_id = await _acting_guardian(session, principal, student.id)
    if guardian_id is None:
        if as_uuid(principal.id) != student.id:
            # Someone else's child: answered as if the student did not exist.
            raise ProblemError("student_not_found", student_id=student.id)
        age = rules.age_of(student.birth_date, clock.today())
        if not rules.may_consent_for_self(age, consent_age=settings.consent_age):
            raise ProblemError("consent_not_allowed", reason=f"a student under {settings.consent_age} needs a guardian's consent")
    current = getattr(texts(settings), data.purpose.value)
    if data.text_version != current:
        raise ProblemError("consent_text_outdated", current=current)
    now = clock.now()
    existing = await repo.open_consent(session, student.id, data.purpose, data.partner_id, for_update=True)
    if existing is not None:
        if existing.text_version == data.text_version:
            raise ProblemError("consent_already_given", consent_id=existing.id)
        # Agreeing to a newer text replaces the consent to the older one.
        _end(existing, ConsentEnd.superseded, principal)
        await session.flush()
        await directory.ended(session, [existing])
    consent = Consent(
        id=uuid.uuid4(), student_id=student.id, guardian_id=guardian_id, purpose=data.purpose,
        partner_id=data.partner_id, text_version=data.text_version, given_at=now,
    )
    # The partial unique index turns a concurrent second "give" into a conflict, not a second row.
    await insert_unique(session, consent, "consent_already_given", consent_id="(given concurrently)")
    await directory.created(session, consent)
    return consent


async def withdraw(*, session: AsyncSession, principal: Principal, consent_id: uuid.UUID, settings: GatewaySettings) -> Consent:
    """Any linked guardian may withdraw; so may the student, if 14 or older (PIPL art. 15)."""
    consent = await repo.get(session, consent_id, for_update=True)
    if consent is None:
        raise ProblemError("consent_not_found", consent_id=consent_id)
    guardian_id = await _acting_guardian(session, principal, consent.student_id)
    if guardian_id is None:
        if as_uuid(principal.id) != consent.student_id:
            raise ProblemError("consent_not_found", consent_id=consent_id)
        student = await _student(session, consent.student_id)
        age = rules.age_of(student.birth_date, clock.today())
        if not rules.may_consent_for_self(age, consent_age=settings.consent_age):
            raise ProblemError("consent_not_allowed", reason=f"a student under {settings.consent_age} needs a guardian to withdraw")
    if consent.ended_at is not None:
        raise ProblemError("consent_already_withdrawn", consent_id=consent_id, reason=consent.end_reason)
    _end(consent, ConsentEnd.withdrawn, principal)
    await session.flush()
    await directory.ended(session, [consent])
    return consent


async def visible(*, session: AsyncSession, principal: Principal, consent_id: uuid.UUID) -> Consent:
    stmt = select(Consent).where(Consent.id == consent_id, repo.visible_consents(principal))
    consent = (await session.execute(stmt)).scalar_one_or_none()
    if consent is None:
        raise ProblemError("consent_not_found", consent_id=consent_id)
    return consent


async def check(
    *,
    session: AsyncSession,
    student_id: uuid.UUID,
    purpose: ConsentPurpose,
    partner_id: uuid.UUID | None,
    settings: GatewaySettings,
) -> ConsentCheck:
    """Whether the student's data may be processed (or shared with the partner) for the purpose."""
    student = await _student(session, student_id)
    await _check_purpose(session, purpose, partner_id)
    open_consent = await repo.open_consent(session, student.id, purpose, partner_id)
    found = None
    if open_consent is not None:
        found = rules.OpenConsent(
            given_by_guardian=open_consent.guardian_id is not None,
            guardian_in_office=await repo.is_guardian_in_office(session, open_consent.guardian_id, student.id),
        )
    decision = rules.decide(
        purpose, age=rules.age_of(student.birth_date, clock.today()), open_consent=found, consent_age=settings.consent_age
    )
    return ConsentCheck(
        student_id=student.id, purpose=purpose, partner_id=partner_id, required=decision.required,
        holds=decision.holds, allowed=decision.allowed, age=decision.age,
        consent_id=open_consent.id if open_consent and decision.holds else None,
        text_version=open_consent.text_version if open_consent and decision.holds else None,
        given_at=open_consent.given_at if open_consent and decision.holds else None,
        checked_at=clock.now(),
    )


async def require_consent(
    *,
    session: AsyncSession,
    student_id: uuid.UUID,
    purpose: ConsentPurpose,
    partner_id: uuid.UUID | None = None,
    settings: GatewaySettings,
) -> ConsentCheck:
    """`check`, raising 403 `consent_required` when the data may not be processed for the purpose."""
    result = await check(session=session, student_id=student_id, purpose=purpose, partner_id=partner_id, settings=settings)
    if not result.allowed:
        raise consent_missing(student_id, purpose, partner_id)
    return result


def consent_missing(student_id: uuid.UUID, purpose: ConsentPurpose, partner_id: uuid.UUID | None) -> ProblemError:
    """The 403 that says which consent is missing (shared/consent.py raises the same in services)."""
    return ProblemError(
        "consent_required", student_id=student_id, purpose=purpose.value, partner=partner_id if partner_id else "—"
    )


# ---------------------------------------------------------------- sharing with partner universities

# What a partner sees of a student (schemas.SharedStudent), as written to the access log.
SHARED_FIELDS = ["display_name", "school", "grade"]


def partner_of(principal: Principal) -> uuid.UUID:
    """The partner university the caller speaks for (its machine client, or a person of it)."""
    partner_id = as_uuid(principal.partner_id)
    if partner_id is None:
        # Only a hand-made token lacks it: clients and people with role partner always name one.
        raise ProblemError("forbidden", roles="partner (of a registered partner university)")
    return partner_id


def shared_query(principal: Principal, settings: GatewaySettings) -> Select:
    """The students whose data may be shared with the caller's university now."""
    born_by = rules.latest_birth_date_of_age(settings.consent_age, clock.today())
    return repo.shared_with_partner_query(partner_of(principal), self_consent_born_by=born_by)


def shared_student(consent: Consent, student: UserAccount, school: School | None) -> SharedStudent:
    return SharedStudent(
        id=student.id, display_name=student.display_name, school_id=student.school_id,
        school_name=school.name if school else None, grade=student.grade, consent_id=consent.id,
        consent_text_version=consent.text_version, consent_given_at=consent.given_at,
    )


async def log_shared(session: AsyncSession, principal: Principal, shared: list[SharedStudent]) -> None:
    """Each profile handed to a partner goes in the personal-data access log (PIPL art. 23 and 55:
    a record of what was provided to another controller, when, and under which consent)."""
    session.add_all(
        PiiAccessLog(
            reader_id=principal.id[:100],
            reader_roles=sorted(principal.roles),
            student_id=s.id,
            fields=SHARED_FIELDS,
            reason=f"shared with partner {principal.partner_id} under consent {s.consent_id}",
            consent_id=s.consent_id,
            request_id=request_id_var.get(),
        )
        for s in shared
    )
    await session.flush()


async def shared_profile(
    *, session: AsyncSession, principal: Principal, student_id: uuid.UUID, settings: GatewaySettings
) -> SharedStudent:
    """One student's shareable profile for the caller's university: 404 for no such student,
    403 `consent_required` (naming the missing consent) when the student has not consented."""
    partner_id = partner_of(principal)
    student = await identity_repo.get_user(session, student_id)
    if student is None or "student" not in student.roles or student.disabled:
        raise ProblemError("student_not_found", student_id=student_id)
    result = await check(
        session=session, student_id=student.id, purpose=ConsentPurpose.partner_sharing, partner_id=partner_id, settings=settings
    )
    # Held to the end of the transaction, and read again once held: a consent that ended
    # meanwhile shares nothing, one ending meanwhile ends after this share is logged.
    consent = await repo.get(session, result.consent_id, for_share=True) if result.allowed else None
    if consent is None or consent.ended_at is not None:
        raise consent_missing(student.id, ConsentPurpose.partner_sharing, partner_id)
    school = await identity_repo.get_school(session, student.school_id) if student.school_id else None
    out = shared_student(consent, student, school)
    await log_shared(session, principal, [out])
    return out
