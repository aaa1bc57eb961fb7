"""Guardians' contact data: a guardian sees their own phone, never the other guardian's; staff reveal
every guardian's with a reason, and the access log names each person whose number was read."""

from __future__ import annotations

from sqlalchemy import select

from services.gateway.identity.models import PiiAccessLog
from tests.identity.factories import link, make_school, make_student, make_user
from tests.identity.tokens import bearer

REASON = {"X-Access-Reason": "arranging the weekend session"}
URL = "/identity/students/{}?reveal=guardian_phone"


async def _family(session):
    school = await make_school(session)
    child = await make_student(session, school)
    mother = await make_user(session, "guardian", phone="13700001111")
    father = await make_user(session, "guardian", phone="13800002222")
    await link(session, mother, child, "mother")
    await link(session, father, child, "father")
    return child, mother, father


async def _log(session, *people):
    rows = await session.execute(
        select(PiiAccessLog).where(PiiAccessLog.student_id.in_([p.id for p in people])).order_by(PiiAccessLog.id)
    )
    return rows.scalars().all()


def _phones(answer) -> dict[str, tuple[str, bool]]:
    return {g["guardian_id"]: (g["phone"], g.get("phone_revealed")) for g in answer.json()["guardians"]}


async def test_a_guardian_sees_their_own_phone_and_not_the_other_guardians(gw, session):
    child, mother, father = await _family(session)
    r = await gw.client.get(URL.format(child.id), headers={**(await bearer(gw.app, mother)), **REASON})
    assert r.status_code == 200, r.text
    assert _phones(r) == {str(mother.id): ("13700001111", True), str(father.id): ("138****2222", False)}
    # What was read is the mother's own number, and the log says exactly that.
    assert [(row.reader_id, row.student_id, row.fields) for row in await _log(session, child, mother, father)] == [
        (str(mother.id), mother.id, ["phone"])
    ]


async def test_staff_reveal_every_guardians_phone_and_the_log_names_each_guardian(gw, session):
    child, mother, father = await _family(session)
    staff = await make_user(session, "staff")
    r = await gw.client.get(
        URL.format(child.id) + "&reveal=id_number", headers={**(await bearer(gw.app, staff)), **REASON}
    )
    assert r.status_code == 200, r.text
    assert _phones(r) == {str(mother.id): ("13700001111", True), str(father.id): ("13800002222", True)}
    logged = {(row.student_id, tuple(row.fields), row.reason) for row in await _log(session, child, mother, father)}
    assert logged == {
        (child.id, ("id_number",), REASON["X-Access-Reason"]),
        (mother.id, ("phone",), REASON["X-Access-Reason"]),
        (father.id, ("phone",), REASON["X-Access-Reason"]),
    }
    # Whose number was read can be asked of the log directly.
    admin = await bearer(gw.app, roles=["admin"])
    by_father = (await gw.client.get(f"/identity/access-log?student_id={father.id}", headers=admin)).json()["items"]
    assert [(e["reader_id"], e["fields"]) for e in by_father] == [(str(staff.id), ["phone"])]


async def test_a_student_cannot_reveal_their_guardians_phones(gw, session):
    child, mother, father = await _family(session)
    r = await gw.client.get(URL.format(child.id), headers={**(await bearer(gw.app, child)), **REASON})
    assert r.status_code == 403 and r.json()["code"] == "reveal_forbidden"
    assert await _log(session, child, mother, father) == []
    # Their own number is theirs to see.
    own = await gw.client.get(f"/identity/students/{child.id}?reveal=phone", headers={**(await bearer(gw.app, child)), **REASON})
    assert own.status_code == 200


async def test_a_reveal_without_a_reason_shows_and_logs_nothing(gw, session):
    child, mother, father = await _family(session)
    for reader in (mother, await make_user(session, "staff")):
        r = await gw.client.get(URL.format(child.id), headers=await bearer(gw.app, reader))
        assert r.status_code == 400 and r.json()["code"] == "access_reason_required"
    masked = await gw.client.get(f"/identity/students/{child.id}", headers=await bearer(gw.app, mother))
    assert _phones(masked) == {str(mother.id): ("137****1111", False), str(father.id): ("138****2222", False)}
    assert await _log(session, child, mother, father) == []
