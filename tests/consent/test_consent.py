"""Guardians give and withdraw consent; services ask whether it holds before processing or sharing a child's data."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from services.gateway.app import create_app
from services.gateway.consent import service as consent_service
from services.gateway.consent.models import Consent, ConsentPurpose
from shared import clock
from services.gateway.identity.models import Partner
from shared.clock import FrozenClock, use_clock
from shared.problems import ProblemError
from tests.conftest import running_app
from tests.identity.conftest import gateway_settings
from tests.identity.factories import link, make_school, make_student, make_user
from tests.identity.tokens import bearer


def same_day(years_back: int) -> date:
    """Today's date `years_back` years ago (28 February for a 29 February that year lacks)."""
    today = clock.today()
    try:
        return today.replace(year=today.year - years_back)
    except ValueError:
        return today.replace(year=today.year - years_back, day=28)


def years_ago(years: int, days: int = 0) -> date:
    return same_day(years) - timedelta(days=days)


async def _family(session, *, age: int = 10):
    school = await make_school(session)
    child = await make_student(session, school, born=years_ago(age, days=30))
    guardian = await make_user(session, "guardian")
    await link(session, guardian, child)
    return child, guardian


async def _partner(session, name: str | None = None) -> Partner:
    partner = Partner(id=uuid.uuid4(), name=name or f"大学-{uuid.uuid4().hex[:6]}")
    session.add(partner)
    await session.flush()
    return partner


async def _check(gw, student, purpose="participation", partner=None):
    params = {"student_id": str(student.id), "purpose": purpose}
    if partner is not None:
        params["partner_id"] = str(partner.id)
    service = await bearer(gw.app, client_id="selection-service", roles=["service"], kind="client")
    r = await gw.client.get("/consents/check", params=params, headers=service)
    assert r.status_code == 200, r.text
    return r.json()


def _give(student, purpose="participation", partner=None, version=None):
    body = {"student_id": str(student.id), "purpose": purpose, "text_version": version or f"{purpose.replace('_', '-')}-v1"}
    if partner is not None:
        body["partner_id"] = str(partner.id)
    return body


async def test_a_child_under_14_without_guardian_consent_may_not_be_processed(gw, session):
    child, _ = await _family(session, age=10)
    result = await _check(gw, child)
    assert (result["required"], result["holds"], result["allowed"]) == (True, False, False)
    assert result["age"] == 10 and result["consent_id"] is None
    with pytest.raises(ProblemError) as caught:
        await consent_service.require_consent(
            session=session, student_id=child.id, purpose=ConsentPurpose.participation, settings=gw.settings
        )
    assert caught.value.code == "consent_required" and caught.value.status == 403


async def test_a_guardian_gives_consent_and_withdraws_it(gw, session):
    child, guardian = await _family(session, age=9)
    h = await bearer(gw.app, guardian)
    texts = (await gw.client.get("/consents/texts", headers=h)).json()
    r = await gw.client.post("/consents", json=_give(child, version=texts["participation"]), headers=h)
    assert r.status_code == 201, r.text
    consent = r.json()
    assert consent["guardian_id"] == str(guardian.id) and consent["in_force"] and consent["text_version"] == "participation-v1"
    held = await _check(gw, child)
    assert (held["holds"], held["allowed"], held["consent_id"]) == (True, True, consent["id"])
    again = await gw.client.post("/consents", json=_give(child), headers=h)
    assert again.status_code == 409 and again.json()["code"] == "consent_already_given"

    r = await gw.client.post(f"/consents/{consent['id']}/withdraw", headers=h)
    assert r.status_code == 200, r.text
    ended = r.json()
    assert (ended["in_force"], ended["end_reason"], ended["ended_by"]) == (False, "withdrawn", str(guardian.id))
    assert ended["ended_at"] >= ended["given_at"]
    gone = await _check(gw, child)
    assert (gone["holds"], gone["allowed"]) == (False, False)
    r = await gw.client.post(f"/consents/{consent['id']}/withdraw", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "consent_already_withdrawn"
    # Consenting again after a withdrawal is a new record; the history keeps both.
    assert (await gw.client.post("/consents", json=_give(child), headers=h)).status_code == 201
    rows = (await session.execute(select(func.count()).select_from(Consent).where(Consent.student_id == child.id))).scalar_one()
    assert rows == 2


async def test_only_a_linked_guardian_may_consent_for_a_child(gw, session):
    child, _ = await _family(session, age=10)
    stranger = await make_user(session, "guardian")
    r = await gw.client.post("/consents", json=_give(child), headers=await bearer(gw.app, stranger))
    assert r.status_code == 404 and r.json()["code"] == "student_not_found"
    for role in ("admin", "staff", "coordinator"):
        r = await gw.client.post("/consents", json=_give(child), headers=await bearer(gw.app, roles=[role]))
        assert r.status_code == 403, role
    assert (await _check(gw, child))["holds"] is False


async def test_a_child_under_14_cannot_consent_alone_but_a_student_of_14_can(gw, session):
    young, _ = await _family(session, age=13)
    r = await gw.client.post("/consents", json=_give(young), headers=await bearer(gw.app, young))
    assert r.status_code == 403 and r.json()["code"] == "consent_not_allowed"
    older, _ = await _family(session, age=15)
    partner = await _partner(session)
    before = await _check(gw, older, "partner_sharing", partner)
    assert (before["required"], before["allowed"]) == (True, False)
    r = await gw.client.post("/consents", json=_give(older, "partner_sharing", partner), headers=await bearer(gw.app, older))
    assert r.status_code == 201, r.text
    assert r.json()["guardian_id"] is None
    assert (await _check(gw, older, "partner_sharing", partner))["allowed"] is True


async def test_sharing_consent_names_one_partner(gw, session):
    child, guardian = await _family(session, age=12)
    tsinghua, peking = await _partner(session), await _partner(session)
    h = await bearer(gw.app, guardian)
    r = await gw.client.post("/consents", json=_give(child, "partner_sharing"), headers=h)
    assert r.status_code == 422 and r.json()["code"] == "consent_partner_required"
    r = await gw.client.post("/consents", json={**_give(child), "partner_id": str(tsinghua.id)}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "consent_partner_required"
    r = await gw.client.post("/consents", json=_give(child, "partner_sharing", Partner(id=uuid.uuid4())), headers=h)
    assert r.status_code == 404 and r.json()["code"] == "partner_not_found"
    r = await gw.client.post("/consents", json=_give(child, "partner_sharing", tsinghua), headers=h)
    assert r.status_code == 201
    assert (await _check(gw, child, "partner_sharing", tsinghua))["allowed"] is True
    assert (await _check(gw, child, "partner_sharing", peking))["allowed"] is False
    # Sharing consent is not participation consent.
    assert (await _check(gw, child))["allowed"] is False


async def test_consent_is_given_to_the_current_text_and_a_new_text_replaces_the_old(database_url, session):
    child, guardian = await _family(session, age=11)
    old_app = create_app(gateway_settings(database_url))
    async with running_app(old_app, session) as client:
        r = await client.post("/consents", json=_give(child), headers=await bearer(old_app, guardian))
        assert r.status_code == 201
        first = r.json()["id"]
    new_app = create_app(gateway_settings(database_url, consent_text_version_participation="participation-v2"))
    async with running_app(new_app, session) as client:
        h = await bearer(new_app, guardian)
        r = await client.post("/consents", json=_give(child, version="participation-v1"), headers=h)
        assert r.status_code == 422 and r.json()["code"] == "consent_text_outdated" and "participation-v2" in r.json()["detail"]
        r = await client.post("/consents", json=_give(child, version="participation-v2"), headers=h)
        assert r.status_code == 201, r.text
        old = await client.get(f"/consents/{first}", headers=h)
        assert (old.json()["in_force"], old.json()["end_reason"]) == (False, "superseded")
        listed = await client.get(f"/consents?student_id={child.id}&in_force=true", headers=h)
        assert [c["text_version"] for c in listed.json()["items"]] == ["participation-v2"]


async def test_who_may_ask_whether_consent_holds(gw, session):
    child, guardian = await _family(session)
    params = {"student_id": str(child.id), "purpose": "participation"}
    for role in ("admin", "staff"):
        assert (await gw.client.get("/consents/check", params=params, headers=await bearer(gw.app, roles=[role]))).status_code == 200
    for headers in (await bearer(gw.app, guardian), await bearer(gw.app, roles=["partner"], kind="client", client_id="uni")):
        assert (await gw.client.get("/consents/check", params=params, headers=headers)).status_code == 403
    assert (await gw.client.get("/consents/check", params=params)).status_code == 401
    unknown = await gw.client.get(
        "/consents/check", params={**params, "student_id": str(uuid.uuid4())}, headers=await bearer(gw.app, roles=["staff"])
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "student_not_found"


async def test_each_sees_only_their_consents(gw, session):
    child, guardian = await _family(session)
    other_child, other_guardian = await _family(session)
    for kid, parent in ((child, guardian), (other_child, other_guardian)):
        assert (await gw.client.post("/consents", json=_give(kid), headers=await bearer(gw.app, parent))).status_code == 201

    async def students_seen(headers) -> set[str]:
        r = await gw.client.get("/consents", params={"limit": 200}, headers=headers)
        assert r.status_code == 200, r.text
        return {c["student_id"] for c in r.json()["items"]}

    assert await students_seen(await bearer(gw.app, guardian)) == {str(child.id)}
    assert await students_seen(await bearer(gw.app, child)) == {str(child.id)}
    assert {str(child.id), str(other_child.id)} <= await students_seen(await bearer(gw.app, roles=["staff"]))
    theirs = (await gw.client.get("/consents", params={"student_id": str(other_child.id)}, headers=await bearer(gw.app, roles=["admin"]))).json()
    consent_id = theirs["items"][0]["id"]
    r = await gw.client.get(f"/consents/{consent_id}", headers=await bearer(gw.app, guardian))
    assert r.status_code == 404
    r = await gw.client.post(f"/consents/{consent_id}/withdraw", headers=await bearer(gw.app, guardian))
    assert r.status_code == 404


async def test_the_fourteenth_birthday_ends_the_need_for_participation_consent(gw, session):
    school = await make_school(session)
    born = same_day(14) + timedelta(days=1)  # 14 tomorrow
    child = await make_student(session, school, born=born)
    assert (await _check(gw, child))["required"] is True
    clock = FrozenClock()
    with use_clock(clock):
        clock.advance(days=1)
        result = await _check(gw, child)
    assert (result["age"], result["required"], result["allowed"]) == (14, False, True)
