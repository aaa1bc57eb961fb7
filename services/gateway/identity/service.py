"""Identity operations: schools, users, guardian links, partners, and every read of personal data.

Functions take keyword-only arguments and only `flush()`; the request's session commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.consent import repository as consent_repo
from services.gateway.consent.models import Consent, ConsentEnd
from services.gateway.directory import publisher as directory
from services.gateway.identity import repository as repo
from services.gateway.identity.models import GuardianLink, Partner, PiiAccessLog, School, UserAccount
from services.gateway.identity.passwords import hash_password_in_thread, password_problem
from services.gateway.identity.sealing import aad, seal_address, seal_id_number, seal_phone
from services.gateway.identity.schemas import (
    AccessLogOut,
    GuardianOut,
    PersonalField,
    SchoolIn,
    SchoolPatch,
    ShareConsent,
    StudentListItem,
    StudentOut,
    UserIn,
    UserOut,
    UserPatch,
)
from services.gateway.tokens import service as tokens
from shared import clock
from shared.context import request_id_var
from shared.crypto import FieldCipher
from shared.etag import check_if_match
from shared.ids import as_uuid
from shared.personal import mask_address, mask_id_number, mask_phone, normalise_phone, parse_resident_id
from shared.problems import InvalidValue, ProblemError
from shared.tokens import Principal
from shared.unique import flush_unique, insert_unique

# Who may ask for unmasked personal data, besides the person themself and their guardians.
REVEAL_ROLES = ("admin", "staff")

# The problem a unique violation of each of the identity tables' constraints is (shared/unique.py).
CONSTRAINTS = {"uq_user_account_id_number_index": "id_number_taken", "uq_user_account_username_lower": "username_taken"}


# ---------------------------------------------------------------- schools


async def create_school(*, session: AsyncSession, data: SchoolIn) -> School:
    if await repo.school_by_name(session, data.name):
        raise ProblemError("school_name_taken", name=data.name)
    school = School(id=uuid.uuid4(), name=data.name.strip(), district=data.district.strip(), level=data.level)
    await insert_unique(session, school, "school_name_taken", name=data.name)
    await directory.created(session, school)
    return school


async def update_school(*, session: AsyncSession, school_id: uuid.UUID, patch: SchoolPatch) -> School:
    school = await repo.get_school(session, school_id)
    if school is None:
        raise ProblemError("school_not_found", school_id=school_id)
    before = directory.state(school)
    changes = patch.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"].strip().lower() != school.name.lower():
        if await repo.school_by_name(session, changes["name"]):
            raise ProblemError("school_name_taken", name=changes["name"])
    for key, value in changes.items():
        setattr(school, key, value.strip() if isinstance(value, str) else value)
    await flush_unique(session, "school_name_taken", name=school.name)
    await directory.changed(session, school, before)
    return school


async def get_school(*, session: AsyncSession, school_id: uuid.UUID) -> School:
    school = await repo.get_school(session, school_id)
    if school is None:
        raise ProblemError("school_not_found", school_id=school_id)
    return school


# ---------------------------------------------------------------- users


@dataclass
class PersonalInput:
    """Plaintext personal data to store on a user (None leaves it unset)."""

    id_number: str | None = None
    phone: str | None = None
    address: str | None = None


def set_id_number(user: UserAccount, raw: str | None, *, cipher: FieldCipher, on: date) -> None:
    if raw is None:
        user.id_number_cipher = user.id_number_index = None
        return
    try:
        parsed = parse_resident_id(raw, today=on)
    except InvalidValue as exc:
        raise ProblemError(exc.code) from None
    user.id_number_cipher, user.id_number_index = seal_id_number(cipher, user.id, parsed.number)
    user.birth_date = parsed.birth_date


def set_phone(user: UserAccount, raw: str | None, *, cipher: FieldCipher) -> None:
    if raw is None:
        user.phone_cipher = user.phone_index = None
        return
    try:
        phone = normalise_phone(raw)
    except InvalidValue as exc:
        raise ProblemError(exc.code) from None
    user.phone_cipher, user.phone_index = seal_phone(cipher, user.id, phone)


def set_address(user: UserAccount, raw: str | None, *, cipher: FieldCipher) -> None:
    user.address_cipher = None if raw is None else seal_address(cipher, user.id, raw)


async def _check_password(password: str) -> str:
    problem = password_problem(password)
    if problem:
        raise ProblemError("weak_password", reason=problem)
    return await hash_password_in_thread(password)


async def _check_profile(
    session: AsyncSession, user: UserAccount, *, school_changed: bool, partner_changed: bool = False
) -> None:
    """The rules the check constraints also hold, answered as problems rather than 500s."""
    roles = set(user.roles)
    if "student" in roles and (user.school_id is None or user.grade is None):
        raise ProblemError("profile_invalid", reason="a student needs a school_id and a grade")
    if "coordinator" in roles and user.school_id is None:
        raise ProblemError("profile_invalid", reason="a coordinator needs a school_id")
    if ("partner" in roles) != (user.partner_id is not None):
        raise ProblemError("profile_invalid", reason="a partner_id goes with the role partner, and only with it")
    if user.partner_id is not None and partner_changed and await repo.get_partner(session, user.partner_id) is None:
        raise ProblemError("partner_not_found", partner_id=user.partner_id)
    if user.school_id is not None and school_changed:
        school = await repo.get_school(session, user.school_id)
        if school is None:
            raise ProblemError("school_not_found", school_id=user.school_id)
        if school.disabled:
            raise ProblemError("profile_invalid", reason="the school is disabled")


def new_user(
    *,
    user_id: uuid.UUID | None = None,
    username: str,
    display_name: str,
    roles: Iterable[str],
    school_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    grade: int | None = None,
    birth_date: date | None = None,
    password_hash: str | None = None,
    personal: PersonalInput | None = None,
    cipher: FieldCipher,
    on: date,
) -> UserAccount:
    """A new user with its personal data encrypted (raises a problem for invalid personal data)."""
    user = UserAccount(
        id=user_id or uuid.uuid4(),
        username=username,
        display_name=display_name.strip(),
        roles=sorted(set(roles)),
        school_id=school_id,
        partner_id=partner_id,
        grade=grade,
        birth_date=birth_date,
        password_hash=password_hash,
        disabled=False,
    )
    personal = personal or PersonalInput()
    set_id_number(user, personal.id_number, cipher=cipher, on=on)
    if birth_date is not None and user.birth_date != birth_date:
        raise ProblemError("profile_invalid", reason="birth_date differs from the ID number's")
    set_phone(user, personal.phone, cipher=cipher)
    set_address(user, personal.address, cipher=cipher)
    return user


async def create_user(*, session: AsyncSession, data: UserIn, cipher: FieldCipher) -> UserAccount:
    if await repo.user_by_username(session, data.username):
        raise ProblemError("username_taken", username=data.username)
    password_hash = await _check_password(data.password.get_secret_value()) if data.password is not None else None
    user = new_user(
        username=data.username,
        display_name=data.display_name,
        roles=data.roles,
        school_id=data.school_id,
        partner_id=data.partner_id,
        grade=data.grade,
        birth_date=data.birth_date,
        password_hash=password_hash,
        personal=PersonalInput(id_number=data.id_number, phone=data.phone, address=data.address),
        cipher=cipher,
        on=clock.today(),
    )
    await _check_profile(session, user, school_changed=True, partner_changed=True)
    if user.id_number_index and await repo.id_indexes_taken(session, [user.id_number_index]):
        raise ProblemError("id_number_taken")
    await insert_unique(session, user, "username_taken", constraints=CONSTRAINTS, username=data.username)
    await directory.created(session, user)
    return user


async def update_user(
    *, session: AsyncSession, user_id: uuid.UUID, patch: UserPatch, if_match: str | None, cipher: FieldCipher,
    by: str | None = None,
) -> UserAccount:
    # The row lock makes "check the version, then write" one step against concurrent updates.
    user = await repo.get_user(session, user_id, for_update=True)
    if user is None:
        raise ProblemError("user_not_found", user_id=user_id)
    check_if_match(if_match, user.version)
    before = directory.state(user)
    changes = patch.model_dump(exclude_unset=True)
    # Disabling an account or resetting its password ends every sign-in it has, in this
    # transaction: its refresh tokens are revoked, and every service refuses its access tokens.
    ends_sign_ins = ("disabled" in changes and changes["disabled"] and not user.disabled) or "password" in changes
    was_guardian = _in_office_as_guardian(user)
    if "display_name" in changes:
        user.display_name = changes["display_name"].strip()
    if "roles" in changes:
        user.roles = sorted(set(changes["roles"]))
    if "disabled" in changes:
        user.disabled = changes["disabled"]
    if "password" in changes:
        user.password_hash = None if patch.password is None else await _check_password(patch.password.get_secret_value())
    school_changed = "school_id" in changes and changes["school_id"] != user.school_id
    if "school_id" in changes:
        user.school_id = changes["school_id"]
    partner_changed = "partner_id" in changes and changes["partner_id"] != user.partner_id
    if "partner_id" in changes:
        user.partner_id = changes["partner_id"]
    if "grade" in changes:
        user.grade = changes["grade"]
    on = clock.today()
    if "id_number" in changes:
        old_index = user.id_number_index
        set_id_number(user, changes["id_number"], cipher=cipher, on=on)
        if user.id_number_index and user.id_number_index != old_index:
            if await repo.id_indexes_taken(session, [user.id_number_index]):
                raise ProblemError("id_number_taken")
    if "birth_date" in changes:
        if user.id_number_cipher is not None and changes["birth_date"] != user.birth_date:
            raise ProblemError("profile_invalid", reason="birth_date comes from the ID number and differs from it")
        user.birth_date = changes["birth_date"]
    if "phone" in changes:
        set_phone(user, changes["phone"], cipher=cipher)
    if "address" in changes:
        set_address(user, changes["address"], cipher=cipher)
    await _check_profile(session, user, school_changed=school_changed, partner_changed=partner_changed)
    await flush_unique(session, "id_number_taken", constraints=CONSTRAINTS)
    if ends_sign_ins:
        await tokens.end_sign_ins(session, user)
    if was_guardian and not _in_office_as_guardian(user):
        # Their consents end with them, in this transaction (see consent/README.md).
        reason = ConsentEnd.guardian_disabled if user.disabled else ConsentEnd.guardian_role_removed
        await consent_repo.end_consents_given_by(session, user.id, reason=reason, by=by, at=clock.now())
    await directory.changed(session, user, before)
    return user


def _in_office_as_guardian(user: UserAccount) -> bool:
    return "guardian" in user.roles and not user.disabled


async def get_user(*, session: AsyncSession, user_id: uuid.UUID) -> UserAccount:
    user = await repo.get_user(session, user_id)
    if user is None:
        raise ProblemError("user_not_found", user_id=user_id)
    return user


async def readable_user(*, session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> UserAccount:
    """A user the caller may read: admin and staff any user, everyone else only themself."""
    if not principal.has_role("admin", "staff") and as_uuid(principal.id) != user_id:
        raise ProblemError("user_not_found", user_id=user_id)
    return await get_user(session=session, user_id=user_id)


async def visible_student(*, session: AsyncSession, principal: Principal, student_id: uuid.UUID) -> UserAccount:
    """A student the caller may see (see repository.visible_students), else 404: a student out
    of one's scope is answered like one that does not exist."""
    student = await repo.visible_student(session, principal, student_id)
    if student is None:
        raise ProblemError("student_not_found", student_id=student_id)
    return student


# ---------------------------------------------------------------- personal data: masks, reveals, the log


def _plain(user: UserAccount, column: str, cipher: FieldCipher) -> str | None:
    blob = getattr(user, f"{column}_cipher")
    return cipher.decrypt_text(blob, aad=aad(user.id, column))


_MASKS = {"id_number": mask_id_number, "phone": mask_phone, "address": mask_address}


def personal_value(user: UserAccount, column: str, cipher: FieldCipher, *, reveal: bool) -> str | None:
    value = _plain(user, column, cipher)
    if value is None or reveal:
        return value
    return _MASKS[column](value)


def user_out(user: UserAccount, cipher: FieldCipher, revealed: Iterable[PersonalField] = ()) -> UserOut:
    shown = set(revealed)
    return UserOut(**_user_fields(user, cipher, shown))


def _user_fields(user: UserAccount, cipher: FieldCipher, shown: set[PersonalField]) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "roles": list(user.roles),
        "disabled": user.disabled,
        "has_password": user.password_hash is not None,
        "school_id": user.school_id,
        "partner_id": user.partner_id,
        "grade": user.grade,
        "birth_date": user.birth_date,
        "id_number": personal_value(user, "id_number", cipher, reveal=PersonalField.id_number in shown),
        "phone": personal_value(user, "phone", cipher, reveal=PersonalField.phone in shown),
        "address": personal_value(user, "address", cipher, reveal=PersonalField.address in shown),
        "revealed": sorted(shown),
        "version": user.version,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


async def student_out(
    *, session: AsyncSession, student: UserAccount, cipher: FieldCipher, revealed: StudentReveal | None = None
) -> StudentOut:
    revealed = revealed or StudentReveal(own=frozenset(), guardians=(), shown=frozenset())
    school = await repo.get_school(session, student.school_id) if student.school_id else None
    guardians = revealed.guardians or await repo.guardians_of(session, student.id)
    return StudentOut(
        **_user_fields(student, cipher, set(revealed.fields)),
        school_name=school.name if school else None,
        guardians=[
            GuardianOut(
                guardian_id=guardian.id,
                display_name=guardian.display_name,
                relation=link.relation,
                phone=personal_value(guardian, "phone", cipher, reveal=guardian.id in revealed.shown),
                phone_revealed=guardian.id in revealed.shown,
            )
            for link, guardian in guardians
        ],
    )


def student_list_item(student: UserAccount, cipher: FieldCipher) -> StudentListItem:
    return StudentListItem(
        id=student.id,
        username=student.username,
        display_name=student.display_name,
        school_id=student.school_id,
        grade=student.grade,
        birth_date=student.birth_date,
        id_number=personal_value(student, "id_number", cipher, reveal=False),
        disabled=student.disabled,
        created_at=student.created_at,
    )


async def _may_reveal(session: AsyncSession, principal: Principal, subject: UserAccount) -> bool:
    """Admin and staff (anyone's data), the person themself, and a guardian of the student.

    A coordinator sees masked data only: the school already holds it, and the programme's
    copy need not be a second way to read it.
    """
    if principal.kind != "user":
        return False
    me = as_uuid(principal.id)
    return (
        principal.has_role(*REVEAL_ROLES)
        or me == subject.id
        or (principal.has_role("guardian") and "student" in subject.roles and await repo.is_guardian_of(session, me, subject.id))
    )


def _reason(reason: str | None) -> str:
    if reason is None or not 3 <= len(reason.strip()) <= 200:
        raise ProblemError("access_reason_required")
    return reason.strip()


async def _log_reads(session: AsyncSession, principal: Principal, reads: Iterable[tuple[uuid.UUID, Iterable[str]]], reason: str) -> None:
    """One access-log row per person whose data was read, in this transaction."""
    session.add_all(
        PiiAccessLog(
            reader_id=principal.id[:100],
            reader_roles=sorted(principal.roles),
            student_id=person,
            fields=sorted(fields),
            reason=reason,
            request_id=request_id_var.get(),
        )
        for person, fields in reads
    )
    await session.flush()


async def authorise_reveal(
    *,
    session: AsyncSession,
    principal: Principal,
    subject: UserAccount,
    fields: set[PersonalField],
    reason: str | None,
) -> None:
    """Allow an unmasked read of `fields` of `subject` and log it in this transaction, or refuse."""
    if not fields:
        return
    if not await _may_reveal(session, principal, subject):
        raise ProblemError("reveal_forbidden", status=403, fields=", ".join(sorted(fields)))
    await _log_reads(session, principal, [(subject.id, fields)], _reason(reason))


@dataclass(frozen=True)
class StudentReveal:
    """What a student's record shows unmasked: the student's own fields, and whose guardian phone."""

    own: frozenset[PersonalField]
    guardians: Sequence[tuple[GuardianLink, UserAccount]]
    shown: frozenset[uuid.UUID]  # the guardians whose phone is shown

    @property
    def fields(self) -> list[PersonalField]:
        """The `revealed` of the answer."""
        return sorted(self.own | ({PersonalField.guardian_phone} if self.shown else set()))


async def authorise_student_reveal(
    *, session: AsyncSession, principal: Principal, student: UserAccount, fields: set[PersonalField], reason: str | None
) -> StudentReveal:
    """`authorise_reveal` for a student's record, whose `guardian_phone` is the guardians' data,
    not the student's: staff reveal every guardian's phone; a guardian only their own (a
    family's other guardian may be the one a court keeps them from reaching); the student
    none. The log names each person whose data was read."""
    own = frozenset(fields - {PersonalField.guardian_phone})
    guardians = await repo.guardians_of(session, student.id) if PersonalField.guardian_phone in fields else ()
    if not fields:
        return StudentReveal(own=own, guardians=guardians, shown=frozenset())
    if own and not await _may_reveal(session, principal, student):
        raise ProblemError("reveal_forbidden", status=403, fields=", ".join(sorted(own)))
    shown: set[uuid.UUID] = set()
    if PersonalField.guardian_phone in fields:
        me = as_uuid(principal.id) if principal.kind == "user" else None
        if principal.kind == "user" and principal.has_role(*REVEAL_ROLES):
            shown = {guardian.id for _, guardian in guardians}
        elif principal.has_role("guardian") and me in {guardian.id for _, guardian in guardians}:
            shown = {me}  # type: ignore[arg-type]
        else:
            raise ProblemError("reveal_forbidden", status=403, fields=PersonalField.guardian_phone.value)
    reads = [(student.id, own)] if own else []
    reads += [(guardian.id, ["phone"]) for _, guardian in guardians if guardian.id in shown and guardian.phone_cipher]
    await _log_reads(session, principal, reads, _reason(reason))
    return StudentReveal(own=own, guardians=guardians, shown=frozenset(shown))


def access_log_out(entry: PiiAccessLog, consent: Consent | None) -> AccessLogOut:
    shared_under = None
    if consent is not None:
        shared_under = ShareConsent(
            id=consent.id, in_force=consent.ended_at is None, ended_at=consent.ended_at, end_reason=consent.end_reason
        )
    return AccessLogOut(
        id=entry.id, reader_id=entry.reader_id, reader_roles=entry.reader_roles, student_id=entry.student_id,
        fields=entry.fields, reason=entry.reason, consent=shared_under, request_id=entry.request_id, at=entry.at,
    )


# ---------------------------------------------------------------- guardian links


async def link_guardian(
    *, session: AsyncSession, student_id: uuid.UUID, guardian_id: uuid.UUID, relation: str
) -> tuple[GuardianLink, bool]:
    """Link (or re-describe the link of) a guardian to a student; True when the link is new."""
    student = await get_user(session=session, user_id=student_id)
    if "student" not in student.roles:
        raise ProblemError("not_a_student", user_id=student_id)
    guardian = await get_user(session=session, user_id=guardian_id)
    if "guardian" not in guardian.roles:
        raise ProblemError("not_a_guardian", user_id=guardian_id)
    if guardian_id == student_id:
        raise ProblemError("profile_invalid", reason="a student cannot be their own guardian")
    link = await repo.get_link(session, guardian_id, student_id)
    if link is not None:
        before = directory.state(link)
        link.relation = relation
        await session.flush()
        await directory.changed(session, link, before)
        return link, False
    link = GuardianLink(guardian_id=guardian_id, student_id=student_id, relation=relation)
    session.add(link)
    await session.flush()
    await session.refresh(link)
    await directory.created(session, link)
    return link, True


async def unlink_guardian(
    *, session: AsyncSession, student_id: uuid.UUID, guardian_id: uuid.UUID, by: str | None = None
) -> None:
    """Unlink, and end the consents the guardian gave for the student in the same transaction:
    a consent holds only while its guardian is the child's guardian."""
    link = await repo.get_link(session, guardian_id, student_id)
    if link is None:
        raise ProblemError("guardian_link_not_found", guardian_id=guardian_id, student_id=student_id)
    await session.delete(link)
    await session.flush()
    await directory.unlinked(session, link)
    await consent_repo.end_consents_given_by(
        session, guardian_id, student_id=student_id, reason=ConsentEnd.guardian_unlinked, by=by, at=clock.now()
    )


# ---------------------------------------------------------------- partners


async def create_partner(*, session: AsyncSession, name: str) -> Partner:
    name = name.strip()
    if await repo.partner_by_name(session, name):
        raise ProblemError("partner_name_taken", name=name)
    partner = Partner(id=uuid.uuid4(), name=name)
    await insert_unique(session, partner, "partner_name_taken", name=name)
    await session.refresh(partner)
    await directory.created(session, partner)
    return partner


async def rename_partner(*, session: AsyncSession, partner_id: uuid.UUID, name: str) -> Partner:
    partner = await repo.get_partner(session, partner_id)
    if partner is None:
        raise ProblemError("partner_not_found", partner_id=partner_id)
    before = directory.state(partner)
    name = name.strip()
    if name != partner.name and await repo.partner_by_name(session, name):
        raise ProblemError("partner_name_taken", name=name)
    partner.name = name
    await flush_unique(session, "partner_name_taken", name=name)
    await directory.changed(session, partner, before)
    return partner


async def get_partner(*, session: AsyncSession, partner_id: uuid.UUID) -> Partner:
    partner = await repo.get_partner(session, partner_id)
    if partner is None:
        raise ProblemError("partner_not_found", partner_id=partner_id)
    return partner


# ---------------------------------------------------------------- key rotation


async def reencrypt_personal_data(*, session: AsyncSession, cipher: FieldCipher, batch: int = 500) -> int:
    """Re-seal every personal field still under an older key with the newest one; returns rows changed.

    Run it (`sprout pii rotate`) after putting a new key first in SPROUT_PII_KEYS; once it
    reports 0, the old key can leave the ring.
    """
    changed = 0
    last: uuid.UUID | None = None
    while True:
        stmt = select(UserAccount).order_by(UserAccount.id).limit(batch).with_for_update()
        if last is not None:
            stmt = stmt.where(UserAccount.id > last)
        users = list((await session.execute(stmt)).scalars())
        if not users:
            return changed
        for user in users:
            touched = False
            for column in ("id_number", "phone", "address"):
                resealed = cipher.rotate(getattr(user, f"{column}_cipher"), aad=aad(user.id, column))
                if resealed is not None:
                    setattr(user, f"{column}_cipher", resealed)
                    touched = True
            changed += touched
        await session.flush()
        last = users[-1].id
