"""From a row to the record the directory publishes: one function per kind, for the events and the snapshot alike.

Each function reads only the attributes its record needs, so it takes an ORM object or a
row of the same columns (the import's `UPDATE ... RETURNING`). What a record carries is
what the contracts (shared/events/contracts/identity.py) say and nothing else: never an ID
number, a phone or an address; of the birth date, the year and whether the person is under
14 on the programme's calendar (`shared.clock.today`, China time).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from shared import clock
from shared.personal import age_on
from shared.events.contracts.identity import (
    ConsentRecord,
    GuardianLinkRecord,
    PartnerRecord,
    PersonRecord,
    SchoolRecord,
)

# PIPL art. 31: below this age a child's personal data is processed only with a guardian's
# consent. The contract's `under_14` says it of this age, whatever a deployment's consent_age.
CONSENT_AGE = 14


def under_14(birth_date: date | None, on: date) -> bool | None:
    return None if birth_date is None else age_on(birth_date, on) < CONSENT_AGE


def turns_14_at(birth_date: date) -> datetime:
    """The start of the day the person turns 14, China time (a 29 February birthday: 1 March
    in a common year, as `age_on` counts it)."""
    try:
        day = birth_date.replace(year=birth_date.year + CONSENT_AGE)
    except ValueError:
        day = date(birth_date.year + CONSENT_AGE, 3, 1)
    return datetime.combine(day, time(0), clock.CHINA)


def person_fields(user: Any, on: date) -> dict[str, Any]:
    """A PersonRecord's fields but its version, as of the day `on`."""
    return {
        "person_id": user.id,
        "roles": sorted(user.roles),
        "display_name": user.display_name,
        "school_id": user.school_id,
        "partner_id": user.partner_id,
        "grade": user.grade,
        "birth_year": user.birth_date.year if user.birth_date else None,
        "under_14": under_14(user.birth_date, on),
        "disabled": user.disabled,
    }


def person_record(user: Any, *, on: date | None = None) -> PersonRecord:
    return PersonRecord(version=user.directory_version, **person_fields(user, on or clock.today()))


def guardian_link_fields(link: Any) -> dict[str, Any]:
    return {"guardian_id": link.guardian_id, "student_id": link.student_id, "relation": link.relation}


def guardian_link_record(link: Any, *, linked: bool = True, version: int | None = None) -> GuardianLinkRecord:
    """The link as it is; `linked=False` with the version taken when it was deleted."""
    return GuardianLinkRecord(version=version or link.directory_version, linked=linked, **guardian_link_fields(link))


def school_fields(school: Any) -> dict[str, Any]:
    return {
        "school_id": school.id, "name": school.name, "district": school.district, "level": str(school.level),
        "disabled": school.disabled,
    }


def school_record(school: Any) -> SchoolRecord:
    return SchoolRecord(version=school.directory_version, **school_fields(school))


def partner_fields(partner: Any) -> dict[str, Any]:
    return {"partner_id": partner.id, "name": partner.name}


def partner_record(partner: Any) -> PartnerRecord:
    return PartnerRecord(version=partner.directory_version, **partner_fields(partner))


def consent_record(consent: Any) -> ConsentRecord:
    return ConsentRecord(
        version=consent.directory_version,
        consent_id=consent.id,
        student_id=consent.student_id,
        purpose=str(consent.purpose),
        partner_id=consent.partner_id,
        guardian_id=consent.guardian_id,
        given_at=consent.given_at,
        ended_at=consent.ended_at,
        end_reason=None if consent.end_reason is None else str(consent.end_reason),
    )
