"""Who sees which students: a coordinator their school's, a guardian their child, a student themself."""

from __future__ import annotations

from tests.identity.factories import link, make_school, make_student, make_user
from tests.identity.tokens import bearer


async def _ids(gw, headers, **params) -> set[str]:
    r = await gw.client.get("/identity/students", params={"limit": 200, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return {item["id"] for item in r.json()["items"]}


async def test_a_coordinator_sees_only_their_schools_students(gw, session):
    mine, theirs = await make_school(session), await make_school(session)
    a, b = await make_student(session, mine), await make_student(session, mine)
    other = await make_student(session, theirs)
    coordinator = await make_user(session, "coordinator", school=mine)
    h = await bearer(gw.app, coordinator)
    assert await _ids(gw, h) == {str(a.id), str(b.id)}
    # Asking for the other school's list gives nothing, not their students.
    assert await _ids(gw, h, school_id=str(theirs.id)) == set()
    r = await gw.client.get(f"/identity/students/{other.id}", headers=h)
    assert r.status_code == 404 and r.json()["code"] == "student_not_found"
    assert (await gw.client.get(f"/identity/students/{a.id}", headers=h)).status_code == 200


async def test_a_guardian_sees_only_their_own_children(gw, session):
    school = await make_school(session)
    child, sibling, stranger = [await make_student(session, school) for _ in range(3)]
    guardian = await make_user(session, "guardian")
    await link(session, guardian, child)
    await link(session, guardian, sibling, "father")
    h = await bearer(gw.app, guardian)
    assert await _ids(gw, h) == {str(child.id), str(sibling.id)}
    assert (await gw.client.get(f"/identity/students/{stranger.id}", headers=h)).status_code == 404


async def test_a_student_sees_only_themself(gw, session):
    school = await make_school(session)
    me, classmate = await make_student(session, school), await make_student(session, school)
    h = await bearer(gw.app, me)
    assert await _ids(gw, h) == {str(me.id)}
    assert (await gw.client.get(f"/identity/students/{classmate.id}", headers=h)).status_code == 404


async def test_admin_and_staff_see_every_school(gw, session):
    a, b = await make_school(session), await make_school(session)
    sa, sb = await make_student(session, a), await make_student(session, b)
    for role in ("admin", "staff"):
        h = await bearer(gw.app, roles=[role])
        seen = await _ids(gw, h, school_id=str(a.id)) | await _ids(gw, h, school_id=str(b.id))
        assert seen == {str(sa.id), str(sb.id)}


async def test_roles_without_student_access_are_refused(gw, session):
    school = await make_school(session)
    student = await make_student(session, school)
    for role in ("mentor", "expert", "partner"):
        h = await bearer(gw.app, roles=[role])
        r = await gw.client.get("/identity/students", headers=h)
        assert r.status_code == 403 and r.json()["code"] == "forbidden", role
        assert (await gw.client.get(f"/identity/students/{student.id}", headers=h)).status_code == 403
    machine = await bearer(gw.app, client_id="partner-uni", roles=["partner"], kind="client")
    assert (await gw.client.get("/identity/students", headers=machine)).status_code == 403
    assert (await gw.client.get("/identity/students")).status_code == 401
