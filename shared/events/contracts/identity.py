"""The directory: who is who, published by the gateway (source "gateway") for every other service.

The gateway owns people, schools, partners, guardian links and consents; each change to one
of them publishes one of these events in the same transaction as the change, and the
read model every service keeps (shared/directory/) is built from them alone. The same
models are the items of the gateway's directory snapshot (`GET /directory/...`, role
`service`), which a service loads when its read model starts empty or is resynced, so an
event and a snapshot row are applied by one function.

Ordering. Every payload carries `version`: a number the gateway takes from one sequence
(`gateway.directory_version`) after writing the row, so for each record a later change has
a larger version. A read model applies a record only when its version is larger than the
one it holds, which makes redelivery and out-of-order delivery harmless.

Data minimisation (PIPL art. 6): what other services need to decide who sees what and who
may do what, and no more. Never an ID number, a phone or an address; of the birth date only
the year and whether the person is under 14 (the gateway publishes `identity.person.updated`
again on the day a child turns 14).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.events.contracts import EventContract, register

SOURCE = "gateway"

SchoolLevel = Literal["primary", "middle", "high"]
ConsentPurpose = Literal["participation", "partner_sharing"]
ConsentEndReason = Literal["withdrawn", "superseded", "guardian_unlinked", "guardian_disabled", "guardian_role_removed"]


class DirectoryRecord(EventContract):
    version: int = Field(ge=1, description="Orders the changes of one record: apply only a larger one.")


class PersonRecord(DirectoryRecord):
    """A person (subject: person_id): `identity.person.registered` and `identity.person.updated`."""

    person_id: uuid.UUID
    roles: list[str]
    display_name: str
    school_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    grade: int | None = None
    birth_year: int | None = None
    # None when the birth date is unknown (a consent rule treats that like under 14).
    under_14: bool | None = None
    disabled: bool = False


class GuardianLinkRecord(DirectoryRecord):
    """A guardian's link to a student (subject: student_id): `identity.guardian.linked` and
    `identity.guardian.unlinked` (then `linked` is false)."""

    guardian_id: uuid.UUID
    student_id: uuid.UUID
    relation: str | None = None
    linked: bool = True


class SchoolRecord(DirectoryRecord):
    """A school (subject: school_id): `identity.school.registered` and `identity.school.updated`."""

    school_id: uuid.UUID
    name: str
    district: str
    level: SchoolLevel
    disabled: bool = False


class PartnerRecord(DirectoryRecord):
    """A partner university (subject: partner_id): `identity.partner.registered` and `identity.partner.updated`."""

    partner_id: uuid.UUID
    name: str


class ConsentRecord(DirectoryRecord):
    """A consent (subject: student_id): `identity.consent.given`, `identity.consent.withdrawn`,
    and `identity.consent.ended` (its guardian was unlinked, disabled, lost the role, or a
    newer text superseded it: `end_reason` says which)."""

    consent_id: uuid.UUID
    student_id: uuid.UUID
    purpose: ConsentPurpose
    partner_id: uuid.UUID | None = None
    # The guardian who gave it, or None when the student gave it themself (from 14).
    guardian_id: uuid.UUID | None = None
    given_at: datetime
    ended_at: datetime | None = None
    end_reason: ConsentEndReason | None = None


PERSON_REGISTERED = "identity.person.registered"
PERSON_UPDATED = "identity.person.updated"
GUARDIAN_LINKED = "identity.guardian.linked"
GUARDIAN_UNLINKED = "identity.guardian.unlinked"
SCHOOL_REGISTERED = "identity.school.registered"
SCHOOL_UPDATED = "identity.school.updated"
PARTNER_REGISTERED = "identity.partner.registered"
PARTNER_UPDATED = "identity.partner.updated"
CONSENT_GIVEN = "identity.consent.given"
CONSENT_WITHDRAWN = "identity.consent.withdrawn"
CONSENT_ENDED = "identity.consent.ended"

# Each directory event type and the record it carries.
RECORDS: dict[str, type[DirectoryRecord]] = {
    PERSON_REGISTERED: PersonRecord,
    PERSON_UPDATED: PersonRecord,
    GUARDIAN_LINKED: GuardianLinkRecord,
    GUARDIAN_UNLINKED: GuardianLinkRecord,
    SCHOOL_REGISTERED: SchoolRecord,
    SCHOOL_UPDATED: SchoolRecord,
    PARTNER_REGISTERED: PartnerRecord,
    PARTNER_UPDATED: PartnerRecord,
    CONSENT_GIVEN: ConsentRecord,
    CONSENT_WITHDRAWN: ConsentRecord,
    CONSENT_ENDED: ConsentRecord,
}

for _type, _model in RECORDS.items():
    register(_type, 1, _model)


def subject_of(record: DirectoryRecord) -> uuid.UUID:
    """The event subject of a record: events of one subject reach a consumer in order."""
    if isinstance(record, PersonRecord):
        return record.person_id
    if isinstance(record, (GuardianLinkRecord, ConsentRecord)):
        return record.student_id
    if isinstance(record, SchoolRecord):
        return record.school_id
    if isinstance(record, PartnerRecord):
        return record.partner_id
    raise TypeError(f"not a directory record: {type(record).__qualname__}")


# The gateway's own timer, due on the day a child turns 14: its handler publishes
# `identity.person.updated` with `under_14` false (if the birth date has not changed since).
PERSON_TURNS_14 = "identity.person.turns_14"


class PersonTurns14(EventContract):
    person_id: uuid.UUID


register(PERSON_TURNS_14, 1, PersonTurns14)
