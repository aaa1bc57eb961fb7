"""When consent is needed and when it holds (PIPL art. 31: a child under 14 needs a guardian's consent).

Plain functions of plain values, so the rules are tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.gateway.consent.models import ConsentPurpose
from shared.personal import age_on


@dataclass(frozen=True)
class OpenConsent:
    """The open consent of a (student, purpose, partner), as the rules need to see it."""

    given_by_guardian: bool
    # For a guardian's consent: whether its giver is still the student's guardian now, i.e.
    # linked to them, holding the guardian role, with an enabled account. A consent outlives
    # none of these (repository.giver_is_guardian asks the same in SQL).
    guardian_in_office: bool


@dataclass(frozen=True)
class Decision:
    required: bool  # the purpose needs a consent for this student
    holds: bool  # a valid consent is in force
    age: int | None

    @property
    def allowed(self) -> bool:
        """May the data be processed (or shared) for the purpose?"""
        return self.holds or not self.required


def age_of(birth_date: date | None, today: date) -> int | None:
    return None if birth_date is None else age_on(birth_date, today)


def consent_required(purpose: ConsentPurpose, age: int | None, *, consent_age: int = 14) -> bool:
    """Sharing with a partner is a transfer to another controller: it always needs a consent
    (PIPL art. 23). Participation needs one below `consent_age`; an unknown age counts as below."""
    if purpose is ConsentPurpose.partner_sharing:
        return True
    return age is None or age < consent_age


def may_consent_for_self(age: int | None, *, consent_age: int = 14) -> bool:
    return age is not None and age >= consent_age


def decide(
    purpose: ConsentPurpose, *, age: int | None, open_consent: OpenConsent | None, consent_age: int = 14
) -> Decision:
    required = consent_required(purpose, age, consent_age=consent_age)
    if open_consent is None:
        holds = False
    elif open_consent.given_by_guardian:
        holds = open_consent.guardian_in_office
    else:
        holds = may_consent_for_self(age, consent_age=consent_age)
    return Decision(required=required, holds=holds, age=age)


def latest_birth_date_of_age(age: int, today: date) -> date:
    """The last birth date of someone `age` or older on `today` (for "aged at least" in SQL).

    Someone born on 29 February comes of age on 1 March in common years (see `age_on`), so on
    a 29 February the cutoff in a common year is 28 February.
    """
    try:
        return today.replace(year=today.year - age)
    except ValueError:
        return today.replace(year=today.year - age, day=28)
