"""When consent is needed and when it holds (PIPL art. 31: a child under 14 needs a guardian's consent).

Plain functions of plain values, so the rules are tested without a database. The gateway
decides with them from a student's age (services/gateway/consent/service.py), and every
domain service from its directory read model, which knows only whether the student is under
14 (shared/directory/queries.py `consent_holds`): `decide_for` takes that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shared.personal import age_on

PARTNER_SHARING = "partner_sharing"


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


def of_consent_age(age: int | None, *, consent_age: int = 14) -> bool | None:
    """Whether someone of `age` may consent for themself; None when the age is unknown."""
    return None if age is None else age >= consent_age


def required_for(purpose: str, *, of_age: bool | None) -> bool:
    """Sharing with a partner is a transfer to another controller: it always needs a consent
    (PIPL art. 23). Participation needs one below the consent age; an unknown age counts as below."""
    return purpose == PARTNER_SHARING or of_age is not True


def consent_required(purpose: str, age: int | None, *, consent_age: int = 14) -> bool:
    return required_for(purpose, of_age=of_consent_age(age, consent_age=consent_age))


def may_consent_for_self(age: int | None, *, consent_age: int = 14) -> bool:
    return of_consent_age(age, consent_age=consent_age) is True


def decide_for(purpose: str, *, of_age: bool | None, open_consent: OpenConsent | None) -> Decision:
    """The decision from whether the student is of consent age (None: unknown)."""
    if open_consent is None:
        holds = False
    elif open_consent.given_by_guardian:
        holds = open_consent.guardian_in_office
    else:
        holds = of_age is True
    return Decision(required=required_for(purpose, of_age=of_age), holds=holds, age=None)


def decide(
    purpose: str, *, age: int | None, open_consent: OpenConsent | None, consent_age: int = 14
) -> Decision:
    decision = decide_for(purpose, of_age=of_consent_age(age, consent_age=consent_age), open_consent=open_consent)
    return Decision(required=decision.required, holds=decision.holds, age=age)


def latest_birth_date_of_age(age: int, today: date) -> date:
    """The last birth date of someone `age` or older on `today` (for "aged at least" in SQL).

    Someone born on 29 February comes of age on 1 March in common years (see `age_on`), so on
    a 29 February the cutoff in a common year is 28 February.
    """
    try:
        return today.replace(year=today.year - age)
    except ValueError:
        return today.replace(year=today.year - age, day=28)
