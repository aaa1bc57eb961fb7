"""A partner university sees a student only under a consent naming it: the rest is refused with a clear problem."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from services.gateway.identity.models import Partner, PiiAccessLog
from tests.consent.test_consent import years_ago
from tests.identity.factories import link, make_school, make_student, make_user
from tests.identity.tokens import bearer
from tests.tokens.support import PASSWORD, make_client, password_hash
from tests.tokens.support import make_user as make_login_user


async def _partner(session, name: str | None = None) -> Partner:
    partner = Partner(id=uuid.uuid4(), name=name or f"大学-{uuid.uuid4().hex[:6]}")
    session.add(partner)
    await session.flush()
    return partner


async def _client_token(gw, session, partner: Partner) -> dict[str, str]:
    """A real client-credentials token of the partner's machine client."""
    client, secret = await make_client(session, role="partner", partner=partner)
    r = await gw.client.post(
        "/auth/token", data={"grant_type": "client_credentials", "client_id": client.client_id, "client_secret": secret}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _give(gw, by, student, partner) -> str:
    body = {"student_id": str(student.id), "purpose": "partner_sharing", "partner_id": str(partner.id), "text_version": "partner-sharing-v1"}
    r = await gw.client.post("/consents", json=body, headers=await bearer(gw.app, by))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _seen(gw, headers) -> set[str]:
    r = await gw.client.get("/partner/students", params={"limit": 200}, headers=headers)
    assert r.status_code == 200, r.text
    return {s["id"] for s in r.json()["items"]}


async def test_a_partner_lists_only_students_who_consented_to_share_with_it(gw, session):
    mine, theirs = await _partner(session), await _partner(session)
    school = await make_school(session)
    child = await make_student(session, school, born=years_ago(10, days=30))  # under 14: a guardian consents
    guardian = await make_user(session, "guardian")
    await link(session, guardian, child)
    teen = await make_student(session, school, born=years_ago(15, days=30), grade=9)  # consents themself
    silent = await make_student(session, school, born=years_ago(12, days=30))  # nobody consented
    elsewhere = await make_student(session, school, born=years_ago(16, days=30), grade=10)  # consented to another partner
    withdrawn = await make_student(session, school, born=years_ago(15, days=30), grade=9)
    await _give(gw, guardian, child, mine)
    await _give(gw, teen, teen, mine)
    await _give(gw, elsewhere, elsewhere, theirs)
    gone = await _give(gw, withdrawn, withdrawn, mine)
    assert (await gw.client.post(f"/consents/{gone}/withdraw", headers=await bearer(gw.app, withdrawn))).status_code == 200

    h = await _client_token(gw, session, mine)
    seen = await _seen(gw, h)
    assert seen == {str(child.id), str(teen.id)}
    assert str(silent.id) not in seen and str(withdrawn.id) not in seen
    assert await _seen(gw, await _client_token(gw, session, theirs)) == {str(elsewhere.id)}
    # The shareable profile: name, school, grade and the consent; no personal data, masked or not.
    item = next(s for s in (await gw.client.get("/partner/students", headers=h)).json()["items"] if s["id"] == str(child.id))
    assert set(item) == {"id", "display_name", "school_id", "school_name", "grade", "consent_id", "consent_text_version", "consent_given_at"}
    assert item["school_name"] == school.name and item["consent_text_version"] == "partner-sharing-v1"

    # A disabled account is no longer shared.
    teen.disabled = True
    await session.flush()
    assert await _seen(gw, h) == {str(child.id)}


async def test_a_child_without_consent_is_refused_to_a_partner_with_a_problem_naming_the_missing_consent(gw, session):
    partner = await _partner(session)
    school = await make_school(session)
    child = await make_student(session, school, born=years_ago(10, days=30))
    guardian = await make_user(session, "guardian")
    await link(session, guardian, child)
    h = await _client_token(gw, session, partner)

    r = await gw.client.get(f"/partner/students/{child.id}", headers=h)
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "consent_required"
    assert str(child.id) in problem["detail"] and "partner_sharing" in problem["detail"] and str(partner.id) in problem["detail"]
    zh = await gw.client.get(f"/partner/students/{child.id}", headers={**h, "Accept-Language": "zh"})
    assert "缺少同意" in zh.json()["detail"]

    # A participation consent is not a sharing consent; another partner's is not this one's.
    other = await _partner(session)
    participation = {"student_id": str(child.id), "purpose": "participation", "text_version": "participation-v1"}
    assert (await gw.client.post("/consents", json=participation, headers=await bearer(gw.app, guardian))).status_code == 201
    await _give(gw, guardian, child, other)
    assert (await gw.client.get(f"/partner/students/{child.id}", headers=h)).json()["code"] == "consent_required"

    consent_id = await _give(gw, guardian, child, partner)
    r = await gw.client.get(f"/partner/students/{child.id}", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["consent_id"] == consent_id and "id_number" not in r.json()

    await gw.client.post(f"/consents/{consent_id}/withdraw", headers=await bearer(gw.app, guardian))
    assert (await gw.client.get(f"/partner/students/{child.id}", headers=h)).status_code == 403
    unknown = await gw.client.get(f"/partner/students/{uuid.uuid4()}", headers=h)
    assert unknown.status_code == 404 and unknown.json()["code"] == "student_not_found"


async def test_a_person_of_the_partner_university_sees_the_same_and_every_profile_read_is_logged(gw, session):
    partner = await _partner(session)
    school = await make_school(session)
    teen = await make_student(session, school, born=years_ago(15, days=30), grade=9)
    await _give(gw, teen, teen, partner)
    officer = await make_login_user(session, "partner", partner=partner, password_hash_value=password_hash())
    r = await gw.client.post("/auth/token", data={"grant_type": "password", "username": officer.username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    h = {"Authorization": f"Bearer {r.json()['access_token']}"}

    assert await _seen(gw, h) == {str(teen.id)}
    assert (await gw.client.get(f"/partner/students/{teen.id}", headers=h)).status_code == 200
    logged = (await session.execute(select(PiiAccessLog).where(PiiAccessLog.student_id == teen.id))).scalars().all()
    assert [(row.reader_id, row.reader_roles) for row in logged] == [(str(officer.id), ["partner"])] * 2
    assert all(str(partner.id) in row.reason for row in logged)


async def test_partners_use_the_partner_api_and_nothing_else_lists_students_for_them(gw, session):
    partner = await _partner(session)
    h = await _client_token(gw, session, partner)
    assert (await gw.client.get("/identity/students", headers=h)).status_code == 403
    for role in ("admin", "staff", "coordinator", "guardian", "student", "service"):
        r = await gw.client.get("/partner/students", headers=await bearer(gw.app, roles=[role]))
        assert r.status_code == 403 and r.json()["code"] == "forbidden", role
    # A hand-made partner token naming no university sees nothing.
    r = await gw.client.get("/partner/students", headers=await bearer(gw.app, roles=["partner"], kind="client", client_id="x"))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
