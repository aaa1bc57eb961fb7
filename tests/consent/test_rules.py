"""When consent is required and when it holds, as plain rules."""

from datetime import date, timedelta

from services.gateway.consent.models import ConsentPurpose

from shared.consent_rules import (
    OpenConsent,
    consent_required,
    decide,
    latest_birth_date_of_age,
    may_consent_for_self,
)
from shared.personal import age_on

P, S = ConsentPurpose.participation, ConsentPurpose.partner_sharing


def test_participation_needs_consent_below_fourteen_and_when_the_age_is_unknown():
    assert consent_required(P, 13)
    assert not consent_required(P, 14)
    assert consent_required(P, None)


def test_sharing_with_a_partner_always_needs_consent():
    assert consent_required(S, 17) and consent_required(S, 30)


def test_an_under_14_without_consent_may_not_be_processed():
    d = decide(P, age=12, open_consent=None)
    assert (d.required, d.holds, d.allowed) == (True, False, False)


def test_a_guardians_consent_holds_at_any_age():
    for age in (8, 13, 16):
        assert decide(P, age=age, open_consent=OpenConsent(given_by_guardian=True, guardian_in_office=True)).holds


def test_a_guardians_consent_holds_only_while_they_are_the_guardian():
    gone = OpenConsent(given_by_guardian=True, guardian_in_office=False)
    for purpose in (P, S):
        for age in (8, 13, 16):
            decision = decide(purpose, age=age, open_consent=gone)
            assert not decision.holds
            assert decision.allowed is (not decision.required)


def test_a_students_own_consent_counts_from_fourteen():
    assert may_consent_for_self(14) and not may_consent_for_self(13) and not may_consent_for_self(None)
    own = OpenConsent(given_by_guardian=False, guardian_in_office=False)
    assert decide(S, age=15, open_consent=own).allowed
    assert not decide(S, age=13, open_consent=own).holds


def test_fourteen_and_over_may_participate_without_a_recorded_consent_but_not_be_shared():
    assert decide(P, age=15, open_consent=None).allowed
    assert not decide(S, age=15, open_consent=None).allowed


def test_the_birth_date_cutoff_agrees_with_age_on_every_day_of_a_leap_cycle():
    day = date(2024, 1, 1)
    while day < date(2028, 3, 2):
        cutoff = latest_birth_date_of_age(14, day)
        assert age_on(cutoff, day) >= 14, day
        assert age_on(cutoff + timedelta(days=1), day) < 14, day
        day += timedelta(days=1)
