"""Schools and users through the admin API: creation, personal data at rest, masks, reveals and the access log, If-Match."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select, text

from services.gateway.identity.models import PiiAccessLog
from tests.identity.factories import bad_checksum, id_number, link, make_school, make_student, make_user, unique
from tests.identity.tokens import bearer

REASON = {"X-Access-Reason": "calling the family about the exam"}


async def _admin(gw):
    return await bearer(gw.app, roles=["admin"])


async def test_admin_registers_a_school_and_a_duplicate_name_conflicts(gw):
    h = await _admin(gw)
    body = {"name": unique("北京一中"), "district": "东城区", "level": "high"}
    r = await gw.client.post("/identity/schools", json=body, headers=h)
    assert r.status_code == 201, r.text
    school = r.json()
    assert school["level"] == "high" and not school["disabled"]
    again = await gw.client.post("/identity/schools", json=body, headers=h)
    assert again.status_code == 409 and again.json()["code"] == "school_name_taken"
    r = await gw.client.patch(f"/identity/schools/{school['id']}", json={"disabled": True}, headers=h)
    assert r.status_code == 200 and r.json()["disabled"] is True
    listed = await gw.client.get("/identity/schools", headers=h)
    assert school["id"] not in [s["id"] for s in listed.json()["items"]]
    listed = await gw.client.get("/identity/schools?include_disabled=true", headers=h)
    assert school["id"] in [s["id"] for s in listed.json()["items"]]


async def test_names_that_are_all_spaces_are_refused_and_others_stored_without_their_spaces(gw, session):
    h = await _admin(gw)
    for body in ({"name": "   ", "district": "东城区", "level": "high"}, {"name": unique("一中"), "district": "\t ", "level": "high"}):
        r = await gw.client.post("/identity/schools", json=body, headers=h)
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", r.text
    r = await gw.client.post("/identity/schools", json={"name": f"  {unique('二中')}  ", "district": " 西城区 ", "level": "high"}, headers=h)
    assert r.status_code == 201, r.text
    school = r.json()
    assert school["name"] == school["name"].strip() and school["district"] == "西城区"
    r = await gw.client.patch(f"/identity/schools/{school['id']}", json={"name": "  "}, headers=h)
    assert r.status_code == 422, r.text
    r = await gw.client.post("/identity/partners", json={"name": " "}, headers=h)
    assert r.status_code == 422, r.text
    user = await make_user(session, "staff")
    r = await gw.client.patch(f"/identity/users/{user.id}", json={"display_name": "   "}, headers={**h, "If-Match": "*"})
    assert r.status_code == 422, r.text


async def test_only_admin_changes_schools(gw, session):
    school = await make_school(session)
    for role in ("staff", "coordinator", "student"):
        h = await bearer(gw.app, roles=[role], school_id=school.id)
        r = await gw.client.patch(f"/identity/schools/{school.id}", json={"district": "x"}, headers=h)
        assert r.status_code == 403, role
    r = await gw.client.get(f"/identity/schools/{school.id}", headers=await bearer(gw.app, roles=["mentor"]))
    assert r.status_code == 200
    r = await gw.client.get(f"/identity/schools/{school.id}", headers=await bearer(gw.app, roles=["guardian"]))
    assert r.status_code == 403


async def test_creating_a_student_stores_the_id_number_encrypted_and_the_password_as_argon2(gw, session):
    school = await make_school(session)
    number = id_number(date(2012, 6, 15))
    body = {
        "username": unique("xiaoming"), "display_name": "小明", "roles": ["student"], "school_id": str(school.id),
        "grade": 8, "id_number": number, "phone": "13812345678", "address": "北京市海淀区中关村大街1号",
        "password": "a long enough password",
    }
    r = await gw.client.post("/identity/users", json=body, headers=await _admin(gw))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["birth_date"] == "2012-06-15"  # taken from the ID number
    assert out["id_number"] == number[:3] + "*" * 11 + number[-4:]
    assert out["phone"] == "138****5678"
    assert out["revealed"] == [] and out["has_password"] is True
    assert r.headers["ETag"] == '"1"'

    # Plain SQL over the whole row, as anyone with database access would read it.
    row = (await session.execute(text("SELECT t::text FROM gateway.user_account t WHERE id = :id"), {"id": out["id"]})).scalar_one()
    assert number not in row and number[:17] not in row
    assert "13812345678" not in row and "中关村" not in row
    dump = (await session.execute(text("SELECT string_agg(t::text, '|') FROM gateway.user_account t"))).scalar_one()
    assert number not in dump
    stored = (await session.execute(text("SELECT password_hash FROM gateway.user_account WHERE id = :id"), {"id": out["id"]})).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")  # OWASP's Argon2id parameters
    assert "a long enough password" not in dump


async def test_personal_data_that_cannot_be_right_is_refused(gw, session):
    school = await make_school(session)
    h = await _admin(gw)
    base = {"display_name": "小红", "roles": ["student"], "school_id": str(school.id), "grade": 7}
    good = id_number(date(2013, 1, 2))
    cases = [
        ({"id_number": bad_checksum(good)}, 422, "id_number_checksum"),
        ({"id_number": "12345"}, 422, "id_number_format"),
        ({"phone": "12345678901"}, 422, "phone_format"),
        ({"roles": ["student"], "grade": None}, 422, "profile_invalid"),
        ({"roles": ["coordinator"], "school_id": None}, 422, "profile_invalid"),
        ({"school_id": str(uuid.uuid4())}, 404, "school_not_found"),
        ({"password": "short"}, 422, "weak_password"),
    ]
    for extra, status, code in cases:
        r = await gw.client.post("/identity/users", json={**base, "username": unique("u"), **extra}, headers=h)
        assert (r.status_code, r.json()["code"]) == (status, code), (extra, r.text)
    first = await gw.client.post("/identity/users", json={**base, "username": unique("u"), "id_number": good}, headers=h)
    assert first.status_code == 201
    second = await gw.client.post("/identity/users", json={**base, "username": unique("u"), "id_number": good.lower()}, headers=h)
    assert second.status_code == 409 and second.json()["code"] == "id_number_taken"
    name = first.json()["username"]
    taken = await gw.client.post("/identity/users", json={**base, "username": name.upper()}, headers=h)
    assert taken.status_code == 409 and taken.json()["code"] == "username_taken"


async def test_creating_a_user_twice_with_one_idempotency_key_creates_one(gw):
    h = {**(await _admin(gw)), "Idempotency-Key": str(uuid.uuid4())}
    body = {"username": unique("staff"), "display_name": "王老师", "roles": ["staff"]}
    first = await gw.client.post("/identity/users", json=body, headers=h)
    again = await gw.client.post("/identity/users", json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"]


async def test_update_needs_the_current_etag(gw, session):
    user = await make_user(session, "staff")
    h = await _admin(gw)
    r = await gw.client.get(f"/identity/users/{user.id}", headers=h)
    etag = r.headers["ETag"]
    missing = await gw.client.patch(f"/identity/users/{user.id}", json={"display_name": "甲"}, headers=h)
    assert missing.status_code == 428 and missing.json()["code"] == "precondition_required"
    ok = await gw.client.patch(f"/identity/users/{user.id}", json={"display_name": "甲"}, headers={**h, "If-Match": etag})
    assert ok.status_code == 200, ok.text
    assert ok.json()["display_name"] == "甲" and ok.headers["ETag"] != etag
    stale = await gw.client.patch(f"/identity/users/{user.id}", json={"display_name": "乙"}, headers={**h, "If-Match": etag})
    assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
    assert ok.headers["ETag"] in stale.json()["detail"]
    disabled = await gw.client.patch(
        f"/identity/users/{user.id}", json={"disabled": True}, headers={**h, "If-Match": ok.headers["ETag"]}
    )
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True


async def test_a_student_profile_changes_school_and_grade(gw, session):
    school, other = await make_school(session), await make_school(session)
    student = await make_student(session, school, grade=7)
    h = await _admin(gw)
    r = await gw.client.patch(
        f"/identity/users/{student.id}", json={"school_id": str(other.id), "grade": 8}, headers={**h, "If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["school_id"], r.json()["grade"]) == (str(other.id), 8)
    r = await gw.client.patch(f"/identity/users/{student.id}", json={"grade": None}, headers={**h, "If-Match": "*"})
    assert r.status_code == 422 and r.json()["code"] == "profile_invalid"


async def test_masked_for_everyone_until_revealed_with_a_reason_and_every_reveal_is_logged(gw, session):
    school = await make_school(session)
    student = await make_student(session, school, phone="13912345678", address="北京市西城区某街道8号")
    guardian = await make_user(session, "guardian", phone="13700001111")
    await link(session, guardian, student)
    number = None
    for role in ("admin", "staff"):
        h = await bearer(gw.app, roles=[role])
        masked = await gw.client.get(f"/identity/students/{student.id}", headers=h)
        assert masked.status_code == 200
        assert "*" in masked.json()["id_number"] and masked.json()["phone"] == "139****5678"
        assert masked.json()["guardians"][0]["phone"] == "137****1111"
        no_reason = await gw.client.get(f"/identity/students/{student.id}?reveal=id_number", headers=h)
        assert no_reason.status_code == 400 and no_reason.json()["code"] == "access_reason_required"
        shown = await gw.client.get(
            f"/identity/students/{student.id}?reveal=id_number&reveal=guardian_phone", headers={**h, **REASON}
        )
        assert shown.status_code == 200, shown.text
        number = shown.json()["id_number"]
        assert "*" not in number and len(number) == 18
        assert shown.json()["phone"] == "139****5678"  # not asked for, still masked
        assert shown.json()["guardians"][0]["phone"] == "13700001111"
        assert shown.json()["revealed"] == ["guardian_phone", "id_number"]
    # One line per person read: the student's ID number, the guardian's phone.
    logged = (
        await session.execute(
            select(PiiAccessLog).where(PiiAccessLog.student_id.in_([student.id, guardian.id])).order_by(PiiAccessLog.id)
        )
    ).scalars().all()
    assert [(row.reader_roles, row.student_id, row.fields, row.reason) for row in logged] == [
        (["admin"], student.id, ["id_number"], REASON["X-Access-Reason"]),
        (["admin"], guardian.id, ["phone"], REASON["X-Access-Reason"]),
        (["staff"], student.id, ["id_number"], REASON["X-Access-Reason"]),
        (["staff"], guardian.id, ["phone"], REASON["X-Access-Reason"]),
    ]
    assert all(row.request_id for row in logged)


async def test_a_coordinator_sees_their_students_masked_and_may_not_reveal(gw, session):
    school = await make_school(session)
    student = await make_student(session, school)
    h = await bearer(gw.app, roles=["coordinator"], school_id=school.id)
    r = await gw.client.get(f"/identity/students/{student.id}", headers=h)
    assert r.status_code == 200 and "*" in r.json()["id_number"]
    r = await gw.client.get(f"/identity/students/{student.id}?reveal=id_number", headers={**h, **REASON})
    assert r.status_code == 403 and r.json()["code"] == "reveal_forbidden"
    count = (await session.execute(select(PiiAccessLog).where(PiiAccessLog.student_id == student.id))).all()
    assert count == []


async def test_a_guardian_and_the_student_may_see_the_childs_data_and_it_is_logged(gw, session):
    school = await make_school(session)
    student = await make_student(session, school, phone="13912340000")
    guardian = await make_user(session, "guardian")
    await link(session, guardian, student)
    reason = {"X-Access-Reason": "%E6%A0%B8%E5%AF%B9%E4%BF%A1%E6%81%AF"}  # 核对信息, percent-encoded
    for reader in (guardian, student):
        r = await gw.client.get(
            f"/identity/students/{student.id}?reveal=phone", headers={**(await bearer(gw.app, reader)), **reason}
        )
        assert r.status_code == 200, r.text
        assert r.json()["phone"] == "13912340000"
    rows = (await session.execute(select(PiiAccessLog).where(PiiAccessLog.student_id == student.id))).scalars().all()
    assert sorted(r.reader_id for r in rows) == sorted([str(guardian.id), str(student.id)])
    assert {r.reason for r in rows} == {"核对信息"}


async def test_users_read_themselves_but_not_others(gw, session):
    me, other = await make_user(session, "mentor", phone="13600000000"), await make_user(session, "mentor")
    h = await bearer(gw.app, me)
    assert (await gw.client.get(f"/identity/users/{me.id}", headers=h)).status_code == 200
    r = await gw.client.get(f"/identity/users/{other.id}", headers=h)
    assert r.status_code == 404 and r.json()["code"] == "user_not_found"
    r = await gw.client.get(f"/identity/users/{me.id}?reveal=phone&reason=checking%20my%20profile", headers=h)
    assert r.status_code == 200 and r.json()["phone"] == "13600000000"
    staff = await bearer(gw.app, roles=["staff"])
    assert (await gw.client.get("/identity/users?role=mentor", headers=staff)).status_code == 200
    assert (await gw.client.get("/identity/users", headers=h)).status_code == 403


async def test_the_access_log_is_for_admin_and_filters_by_student_reader_and_time(gw, session):
    school = await make_school(session)
    a, b = await make_student(session, school), await make_student(session, school)
    staff = await make_user(session, "staff")
    h = {**(await bearer(gw.app, staff)), **REASON}
    for student in (a, b, a):
        assert (await gw.client.get(f"/identity/students/{student.id}?reveal=id_number", headers=h)).status_code == 200
    admin = await _admin(gw)
    r = await gw.client.get(f"/identity/access-log?student_id={a.id}&limit=1", headers=admin)
    assert r.status_code == 200
    first = r.json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    rest = await gw.client.get(f"/identity/access-log?student_id={a.id}&limit=1&cursor={first['next_cursor']}", headers=admin)
    assert len(rest.json()["items"]) == 1
    assert {i["student_id"] for i in first["items"] + rest.json()["items"]} == {str(a.id)}
    by_reader = await gw.client.get(f"/identity/access-log?reader_id={staff.id}", headers=admin)
    assert len(by_reader.json()["items"]) == 3
    later = await gw.client.get(
        f"/identity/access-log?reader_id={staff.id}", params={"since": "2999-01-01T00:00:00Z"}, headers=admin
    )
    assert later.json()["items"] == []
    assert (await gw.client.get("/identity/access-log", headers=h)).status_code == 403


async def test_guardian_links_are_made_and_removed_by_admin(gw, session):
    school = await make_school(session)
    student, guardian, staff = await make_student(session, school), await make_user(session, "guardian"), await make_user(session, "staff")
    h = await _admin(gw)
    url = f"/identity/students/{student.id}/guardians/{guardian.id}"
    r = await gw.client.put(url, json={"relation": "father"}, headers=h)
    assert r.status_code == 201, r.text
    r = await gw.client.put(url, json={"relation": "grandparent"}, headers=h)
    assert r.status_code == 200 and r.json()["relation"] == "grandparent"
    r = await gw.client.put(f"/identity/students/{student.id}/guardians/{staff.id}", json={"relation": "father"}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "not_a_guardian"
    child = await gw.client.get(f"/identity/students/{student.id}", headers=await bearer(gw.app, guardian))
    assert child.status_code == 200 and child.json()["guardians"][0]["relation"] == "grandparent"
    assert (await gw.client.delete(url, headers=h)).status_code == 204
    assert (await gw.client.delete(url, headers=h)).status_code == 404
    gone = await gw.client.get(f"/identity/students/{student.id}", headers=await bearer(gw.app, guardian))
    assert gone.status_code == 404


async def test_partners_are_registered_by_admin(gw):
    h = await _admin(gw)
    r = await gw.client.post("/identity/partners", json={"name": unique("清华大学")}, headers=h)
    assert r.status_code == 201
    again = await gw.client.post("/identity/partners", json={"name": r.json()["name"]}, headers=h)
    assert again.status_code == 409 and again.json()["code"] == "partner_name_taken"
    guardian = await bearer(gw.app, roles=["guardian"])
    assert (await gw.client.get(f"/identity/partners/{r.json()['id']}", headers=guardian)).status_code == 200
    assert (await gw.client.post("/identity/partners", json={"name": "x"}, headers=guardian)).status_code == 403


async def test_an_access_reason_that_is_not_text_is_refused_not_a_crash(gw, session):
    school = await make_school(session)
    student = await make_student(session, school)
    h = await bearer(gw.app, roles=["admin"])
    r = await gw.client.get(f"/identity/students/{student.id}?reveal=id_number", headers={**h, "X-Access-Reason": "%FF%FE%FD"})
    assert r.status_code == 400 and r.json()["code"] == "access_reason_required"
    raw = "家长来电核实".encode()  # raw UTF-8 bytes in the header, as curl sends them
    r = await gw.client.get(f"/identity/students/{student.id}?reveal=id_number", headers={**h, "X-Access-Reason": raw})
    assert r.status_code == 200, r.text
    row = (await session.execute(select(PiiAccessLog).where(PiiAccessLog.student_id == student.id))).scalar_one()
    assert row.reason == "家长来电核实"


async def _user_who_can_sign_in(session):
    from tests.tokens.support import password_hash

    user = await make_user(session, "staff")
    user.password_hash = password_hash()
    await session.flush()
    return user


async def _refreshes(gw, refresh_token: str) -> int:
    r = await gw.client.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token})
    return r.status_code


async def _patch(gw, user_id, body: dict, h: dict) -> dict:
    current = await gw.client.get(f"/identity/users/{user_id}", headers=h)
    r = await gw.client.patch(f"/identity/users/{user_id}", json=body, headers={**h, "If-Match": current.headers["ETag"]})
    assert r.status_code == 200, r.text
    return r.json()


async def test_disabling_a_user_or_resetting_their_password_ends_their_sign_ins(gw, session):
    from tests.tokens.support import signed_in

    h = await _admin(gw)
    for change in ({"disabled": True}, {"password": "a brand new long password"}, {"password": None}):
        user = await _user_who_can_sign_in(session)
        first, second = await signed_in(gw.app, session, user), await signed_in(gw.app, session, user)
        assert await _refreshes(gw, first["refresh_token"]) == 200
        first = await signed_in(gw.app, session, user)
        await _patch(gw, user.id, change, h)
        # Both sign-ins (two refresh-token families) end with the change, in its transaction.
        assert await _refreshes(gw, first["refresh_token"]) == 401, change
        assert await _refreshes(gw, second["refresh_token"]) == 401, change


async def test_other_changes_leave_a_users_sign_ins_alone(gw, session):
    from tests.tokens.support import signed_in

    h = await _admin(gw)
    user = await _user_who_can_sign_in(session)
    tokens = await signed_in(gw.app, session, user)
    await _patch(gw, user.id, {"display_name": "新名字", "roles": ["staff", "expert"]}, h)
    assert await _refreshes(gw, tokens["refresh_token"]) == 200


async def test_a_partner_person_belongs_to_one_partner_university(gw, session):
    h = await _admin(gw)
    partner = (await gw.client.post("/identity/partners", json={"name": unique("浙江大学")}, headers=h)).json()
    body = {"username": unique("zju"), "display_name": "招生办 王老师", "roles": ["partner"]}

    missing = await gw.client.post("/identity/users", json=body, headers=h)
    assert missing.status_code == 422 and missing.json()["code"] == "profile_invalid"
    unknown = await gw.client.post("/identity/users", json={**body, "partner_id": str(uuid.uuid4())}, headers=h)
    assert unknown.status_code == 404 and unknown.json()["code"] == "partner_not_found"
    staff_with_partner = await gw.client.post(
        "/identity/users", json={**body, "roles": ["staff"], "partner_id": partner["id"]}, headers=h
    )
    assert staff_with_partner.status_code == 422 and staff_with_partner.json()["code"] == "profile_invalid"

    created = await gw.client.post("/identity/users", json={**body, "partner_id": partner["id"]}, headers=h)
    assert created.status_code == 201, created.text
    assert created.json()["partner_id"] == partner["id"]
    # Their access token names the partner, as a partner's machine client's does.
    from services.gateway.identity.models import UserAccount
    from tests.tokens.support import signed_in

    user = await session.get(UserAccount, uuid.UUID(created.json()["id"]))
    token = (await signed_in(gw.app, session, user))["access_token"]
    me = await gw.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["partner"]["id"] == partner["id"]
    whoami = await gw.client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert whoami.json()["partner_id"] == partner["id"]
    # Dropping the role drops the partner with it, or is refused.
    done = await _patch(gw, user.id, {"roles": ["staff"], "partner_id": None}, h)
    assert done["partner_id"] is None and done["roles"] == ["staff"]
    current = await gw.client.get(f"/identity/users/{user.id}", headers=h)
    refused = await gw.client.patch(
        f"/identity/users/{user.id}", json={"roles": ["partner"]}, headers={**h, "If-Match": current.headers["ETag"]}
    )
    # (Last: a refused request leaves this test's shared session dirty, where the app would roll back.)
    assert refused.status_code == 422 and refused.json()["code"] == "profile_invalid"


async def test_an_unknown_partner_is_a_documented_404_when_a_user_is_created_or_changed(gw, session):
    paths = gw.app.openapi()["paths"]
    for path, method in (("/identity/users", "post"), ("/identity/users/{user_id}", "patch")):
        assert "partner_not_found" in paths[path][method]["responses"]["404"]["x-problem-codes"], (method, path)
    h = await _admin(gw)
    user = await make_user(session, "staff")
    current = await gw.client.get(f"/identity/users/{user.id}", headers=h)
    r = await gw.client.patch(
        f"/identity/users/{user.id}", json={"roles": ["partner"], "partner_id": str(uuid.uuid4())},
        headers={**h, "If-Match": current.headers["ETag"]},
    )
    assert r.status_code == 404 and r.json()["code"] == "partner_not_found", r.text
