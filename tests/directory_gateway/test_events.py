"""Each change to the directory publishes exactly its event, with the record as the contract says, in version order.

Every request runs in the test's transaction (rolled back afterwards), so what it published
is read back from the same transaction.
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select, text

from services.gateway.directory import records
from services.gateway.identity import service as identity
from services.gateway.identity.models import UserAccount
from tests.consent.test_consent import _give, years_ago
from tests.directory_gateway.support import PERSONAL_KEYS, due_times, published, subscribe, types
from tests.identity.factories import id_number, link, make_school, make_student, make_user, unique
from tests.identity.tokens import bearer

PHONE = "13812345678"
ADDRESS = "泉州市鲤城区中山路100号"


async def _admin(gw) -> dict[str, str]:
    return await bearer(gw.app, roles=["admin"])


async def _patch(gw, user_id, body: dict) -> dict:
    r = await gw.client.patch(f"/identity/users/{user_id}", json=body, headers={**await _admin(gw), "If-Match": "*"})
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_person_created_through_the_api_is_published_with_their_record_and_nothing_personal(gw, session):
    school = await make_school(session)
    born = years_ago(12, days=30)
    number = id_number(born)
    body = {
        "username": unique("xiaoyu"), "display_name": "林小雨", "roles": ["student"], "school_id": str(school.id),
        "grade": 7, "id_number": number, "phone": PHONE, "address": ADDRESS, "password": "a long enough password",
    }
    r = await gw.client.post("/identity/users", json=body, headers=await _admin(gw))
    assert r.status_code == 201, r.text
    person = uuid.UUID(r.json()["id"])

    events = await published(session, person)
    assert types(events) == ["identity.person.registered", "identity.person.turns_14"]
    record = events[0].payload
    version = record.pop("version")
    assert version >= 1
    assert record == {
        "person_id": str(person), "roles": ["student"], "display_name": "林小雨", "school_id": str(school.id),
        "partner_id": None, "grade": 7, "birth_year": born.year, "under_14": True, "disabled": False,
    }
    assert events[1].payload == {"person_id": str(person)}
    # The row holds the version it was published with, apart from the ETag's.
    row = await session.get(UserAccount, person)
    assert row.directory_version == version and r.headers["ETag"] == f'"{row.version}"'

    # What is stored, as stored: no ID number, phone, address or birth date, in any form.
    stored = (
        await session.execute(
            text("SELECT payload::text FROM events.event WHERE subject = :s ORDER BY id"), {"s": str(person)}
        )
    ).scalars().all()
    for raw in stored:
        for secret in (number, number[-4:] + '"', PHONE, PHONE[-4:], ADDRESS, "中山路", born.isoformat()):
            assert secret not in raw, (secret, raw)
        assert not PERSONAL_KEYS & set(json.loads(raw)), raw


async def test_a_change_to_a_field_of_the_record_publishes_an_update_and_nothing_else_does(gw, session):
    school, other = await make_school(session), await make_school(session)
    student = await make_student(session, school, born=years_ago(15))
    base = max(e.id for e in await published(session, student.id))

    # Personal data and the password are not in the record: nothing to publish.
    await _patch(gw, student.id, {"phone": PHONE})
    await _patch(gw, student.id, {"address": ADDRESS})
    await _patch(gw, student.id, {"password": "another long password"})
    await _patch(gw, student.id, {"grade": student.grade})  # the same value again
    assert await published(session, student.id, after=base) == []

    expected = []
    for change, field, value in (
        ({"grade": 10}, "grade", 10),
        ({"school_id": str(other.id)}, "school_id", str(other.id)),
        ({"display_name": "新名字"}, "display_name", "新名字"),
        ({"roles": ["student", "guardian"]}, "roles", ["guardian", "student"]),
        ({"disabled": True}, "disabled", True),
        ({"disabled": False}, "disabled", False),
    ):
        await _patch(gw, student.id, change)
        expected.append((field, value))
    events = await published(session, student.id, after=base)
    assert types(events) == ["identity.person.updated"] * len(expected)
    for event, (field, value) in zip(events, expected):
        assert event.payload[field] == value, (field, event.payload)
    versions = [e.payload["version"] for e in events]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    # The last one is the person as they are now.
    row = await session.get(UserAccount, student.id)
    assert events[-1].payload == records.person_record(row).model_dump(mode="json")


async def test_a_birth_date_change_publishes_the_year_and_under_14_and_a_new_timer(gw, session):
    await subscribe(session, consumer := f"test-{uuid.uuid4().hex[:8]}", "identity.person.turns_14")
    person = await make_user(session, "mentor", born=years_ago(30), with_id=False)
    base = max(e.id for e in await published(session, person.id))

    # Same year, still an adult: the record does not change.
    born = years_ago(30)
    await _patch(gw, person.id, {"birth_date": born.replace(day=1 if born.day != 1 else 2).isoformat()})
    assert await published(session, person.id, after=base) == []

    child_born = years_ago(13, days=10)
    await _patch(gw, person.id, {"birth_date": child_born.isoformat()})
    events = await published(session, person.id, after=base)
    assert types(events) == ["identity.person.updated", "identity.person.turns_14"]
    assert (events[0].payload["birth_year"], events[0].payload["under_14"]) == (child_born.year, True)
    assert await due_times(session, consumer, person.id) == [records.turns_14_at(child_born)]

    await _patch(gw, person.id, {"birth_date": None})
    last = (await published(session, person.id, after=events[-1].id))
    assert types(last) == ["identity.person.updated"]
    assert (last[0].payload["birth_year"], last[0].payload["under_14"]) == (None, None)


async def test_a_guardian_linked_relinked_and_unlinked(gw, session):
    school = await make_school(session)
    child = await make_student(session, school, born=years_ago(10))
    guardian = await make_user(session, "guardian")
    base = max(e.id for e in await published(session, child.id))
    admin = await _admin(gw)
    url = f"/identity/students/{child.id}/guardians/{guardian.id}"

    assert (await gw.client.put(url, json={"relation": "mother"}, headers=admin)).status_code == 201
    assert (await gw.client.put(url, json={"relation": "mother"}, headers=admin)).status_code == 200  # no change
    assert (await gw.client.put(url, json={"relation": "guardian"}, headers=admin)).status_code == 200
    assert (await gw.client.delete(url, headers=admin)).status_code == 204

    events = await published(session, child.id, after=base)
    assert types(events) == ["identity.guardian.linked", "identity.guardian.linked", "identity.guardian.unlinked"]
    same = {"guardian_id": str(guardian.id), "student_id": str(child.id)}
    assert [{k: e.payload[k] for k in ("guardian_id", "student_id", "relation", "linked")} for e in events] == [
        {**same, "relation": "mother", "linked": True},
        {**same, "relation": "guardian", "linked": True},
        {**same, "relation": "guardian", "linked": False},
    ]
    versions = [e.payload["version"] for e in events]
    assert versions == sorted(versions) and len(set(versions)) == 3
    # Nothing about the guardian themself changed.
    assert types(await published(session, guardian.id)) == ["identity.person.registered"]


async def test_unlinking_a_guardian_ends_their_consents_as_guardian_unlinked(gw, session):
    school = await make_school(session)
    child = await make_student(session, school, born=years_ago(10))
    guardian = await make_user(session, "guardian")
    await link(session, guardian, child)
    r = await gw.client.post("/consents", json=_give(child), headers=await bearer(gw.app, guardian))
    assert r.status_code == 201, r.text
    consent = r.json()
    given = [e for e in await published(session, child.id) if e.type == "identity.consent.given"]
    assert [e.payload["consent_id"] for e in given] == [consent["id"]]

    r = await gw.client.delete(f"/identity/students/{child.id}/guardians/{guardian.id}", headers=await _admin(gw))
    assert r.status_code == 204
    after = await published(session, child.id, after=given[0].id)
    assert types(after) == ["identity.guardian.unlinked", "identity.consent.ended"]
    ended = after[1].payload
    assert ended["consent_id"] == consent["id"] and ended["end_reason"] == "guardian_unlinked"
    assert ended["ended_at"] is not None and ended["version"] > given[0].payload["version"]
    assert (ended["guardian_id"], ended["purpose"], ended["partner_id"]) == (str(guardian.id), "participation", None)


async def test_consents_given_withdrawn_and_ended_by_the_guardians_account(gw, session):
    school = await make_school(session)
    child = await make_student(session, school, born=years_ago(10))
    guardian = await make_user(session, "guardian")
    await link(session, guardian, child)
    h = await bearer(gw.app, guardian)

    first = (await gw.client.post("/consents", json=_give(child), headers=h)).json()["id"]
    assert (await gw.client.post(f"/consents/{first}/withdraw", headers=h)).status_code == 200
    second = (await gw.client.post("/consents", json=_give(child), headers=h)).json()["id"]
    await _patch(gw, guardian.id, {"roles": ["mentor"]})
    await _patch(gw, guardian.id, {"roles": ["guardian"]})
    third = (await gw.client.post("/consents", json=_give(child), headers=h)).json()["id"]
    await _patch(gw, guardian.id, {"disabled": True})

    consents = [e for e in await published(session, child.id) if e.type.startswith("identity.consent.")]
    assert [(e.type, e.payload["consent_id"], e.payload["end_reason"]) for e in consents] == [
        ("identity.consent.given", first, None),
        ("identity.consent.withdrawn", first, "withdrawn"),
        ("identity.consent.given", second, None),
        ("identity.consent.ended", second, "guardian_role_removed"),
        ("identity.consent.given", third, None),
        ("identity.consent.ended", third, "guardian_disabled"),
    ]
    assert all(e.payload["guardian_id"] == str(guardian.id) for e in consents)


async def test_a_newer_text_supersedes_the_consent_to_the_older(database_url, session):
    from services.gateway.app import create_app
    from tests.conftest import running_app
    from tests.identity.conftest import gateway_settings

    school = await make_school(session)
    child = await make_student(session, school, born=years_ago(10))
    guardian = await make_user(session, "guardian")
    await link(session, guardian, child)
    ids = []
    for version in ("participation-v1", "participation-v2"):
        app = create_app(gateway_settings(database_url, consent_text_version_participation=version))
        async with running_app(app, session) as client:
            r = await client.post("/consents", json=_give(child, version=version), headers=await bearer(app, guardian))
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
    consents = [e for e in await published(session, child.id) if e.type.startswith("identity.consent.")]
    assert [(e.type, e.payload["consent_id"], e.payload["end_reason"]) for e in consents] == [
        ("identity.consent.given", ids[0], None),
        ("identity.consent.ended", ids[0], "superseded"),
        ("identity.consent.given", ids[1], None),
    ]


async def test_a_student_of_14_consents_for_themself(gw, session):
    school = await make_school(session)
    student = await make_student(session, school, born=years_ago(15))
    r = await gw.client.post("/consents", json=_give(student), headers=await bearer(gw.app, student))
    assert r.status_code == 201, r.text
    [given] = [e for e in await published(session, student.id) if e.type == "identity.consent.given"]
    assert given.payload["guardian_id"] is None and given.payload["student_id"] == str(student.id)


async def test_schools_registered_changed_and_disabled(gw, session):
    admin = await _admin(gw)
    r = await gw.client.post("/identity/schools", json={"name": unique("泉州七中"), "district": "鲤城区", "level": "middle"}, headers=admin)
    assert r.status_code == 201, r.text
    school = r.json()
    url = f"/identity/schools/{school['id']}"
    assert (await gw.client.patch(url, json={"district": "鲤城区"}, headers=admin)).status_code == 200  # no change
    assert (await gw.client.patch(url, json={"district": "丰泽区", "level": "high"}, headers=admin)).status_code == 200
    assert (await gw.client.patch(url, json={"disabled": True}, headers=admin)).status_code == 200

    events = await published(session, uuid.UUID(school["id"]))
    assert types(events) == ["identity.school.registered", "identity.school.updated", "identity.school.updated"]
    assert [(e.payload["name"], e.payload["district"], e.payload["level"], e.payload["disabled"]) for e in events] == [
        (school["name"], "鲤城区", "middle", False), (school["name"], "丰泽区", "high", False), (school["name"], "丰泽区", "high", True),
    ]
    versions = [e.payload["version"] for e in events]
    assert versions == sorted(versions) and len(set(versions)) == 3


async def test_partners_registered_and_renamed(gw, session):
    admin = await _admin(gw)
    name = unique("厦门大学")
    r = await gw.client.post("/identity/partners", json={"name": name}, headers=admin)
    assert r.status_code == 201, r.text
    partner = uuid.UUID(r.json()["id"])
    assert (await gw.client.patch(f"/identity/partners/{partner}", json={"name": name}, headers=admin)).status_code == 200
    assert (await gw.client.patch(f"/identity/partners/{partner}", json={"name": name + " 新"}, headers=admin)).status_code == 200
    events = await published(session, partner)
    assert types(events) == ["identity.partner.registered", "identity.partner.updated"]
    assert [e.payload["name"] for e in events] == [name, name + " 新"]
    assert events[0].payload["version"] < events[1].payload["version"]


async def test_a_refused_change_publishes_nothing(gw, session):
    school = await make_school(session)
    student = await make_student(session, school, born=years_ago(12))
    base = max(e.id for e in await published(session, student.id))
    r = await gw.client.patch(
        f"/identity/users/{student.id}", json={"school_id": str(uuid.uuid4())}, headers={**await _admin(gw), "If-Match": "*"}
    )
    assert r.status_code == 404 and r.json()["code"] == "school_not_found"
    r = await gw.client.patch(f"/identity/users/{student.id}", json={"grade": 9}, headers={**await _admin(gw), "If-Match": '"999"'})
    assert r.status_code == 412
    assert await published(session, student.id, after=base) == []


async def test_the_cli_and_the_service_publish_alike(session):
    """`sprout user create` runs identity/admin.py, which creates through identity/service.py."""
    from services.gateway.identity.schemas import UserIn
    from tests.identity.factories import cipher

    user = await identity.create_user(
        session=session, data=UserIn(username=unique("root"), display_name="系统管理员", roles=["admin"]), cipher=cipher()
    )
    [event] = await published(session, user.id)
    assert event.type == "identity.person.registered"
    assert event.payload == records.person_record(user).model_dump(mode="json")
    assert (event.payload["birth_year"], event.payload["under_14"]) == (None, None)
    stored = (await session.execute(select(UserAccount.directory_version).where(UserAccount.id == user.id))).scalar_one()
    assert stored == event.payload["version"]
