"""A school's spreadsheet import publishes every person and guardian link it wrote, in the import's transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import select, text

from services.gateway.directory import records
from services.gateway.identity.models import GuardianLink, UserAccount
from tests.consent.test_consent import years_ago
from tests.directory_gateway.support import due_times, published, subscribe, types
from tests.identity.factories import id_number, make_school, make_user
from tests.identity.test_imports import HEADER, URL, csv_file, upload
from tests.identity.tokens import bearer


async def test_the_import_publishes_its_students_their_new_guardians_and_every_link(gw, session):
    await subscribe(session, consumer := f"test-{uuid.uuid4().hex[:8]}", "identity.person.turns_14")
    school = await make_school(session)
    known = await make_user(session, "guardian", phone="13700001111", name="陈家长")
    young, older, third = years_ago(12, days=20), years_ago(15), years_ago(13, days=5)
    data = csv_file(
        HEADER,
        f"林小雨,{id_number(young)},{school.name},7,王芳,13900002222,母亲",
        f"林小山,{id_number(older)},{school.name},9,王芳,13900002222,母亲",
        f"陈小明,{id_number(third)},{school.name},8,陈家长,13700001111,父亲",
    )
    r = await gw.client.post(URL, files=upload(data), headers=await bearer(gw.app, roles=["admin"]))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["imported"] == 3 and report["guardians_created"] == 1 and report["guardians_linked_existing"] == 1
    students = {s["line"]: s for s in report["students"]}
    new_guardian = uuid.UUID(students[2]["guardian_id"])
    assert students[4]["guardian_id"] == str(known.id)

    rows = {u.id: u for u in (await session.execute(select(UserAccount).where(UserAccount.school_id == school.id))).scalars()}
    versions = []
    for line, born, grade, under_14 in ((2, young, 7, True), (3, older, 9, False), (4, third, 8, True)):
        student = uuid.UUID(students[line]["student_id"])
        events = await published(session, student)
        expected = ["identity.person.registered", *(["identity.person.turns_14"] if under_14 else []), "identity.guardian.linked"]
        assert types(events) == expected, line
        person, linked = events[0].payload, events[-1].payload
        assert {k: person[k] for k in ("roles", "school_id", "grade", "birth_year", "under_14", "disabled")} == {
            "roles": ["student"], "school_id": str(school.id), "grade": grade, "birth_year": born.year,
            "under_14": under_14, "disabled": False,
        }, line
        # The record of each is what the snapshot says of the row.
        assert person == records.person_record(rows[student]).model_dump(mode="json")
        assert rows[student].directory_published_at is not None
        guardian = new_guardian if line != 4 else known.id
        assert (linked["guardian_id"], linked["student_id"], linked["linked"]) == (str(guardian), str(student), True)
        link = await session.get(GuardianLink, (guardian, student))
        assert linked["version"] == link.directory_version
        assert await due_times(session, consumer, student) == ([records.turns_14_at(born)] if under_14 else [])
        versions += [person["version"], linked["version"]]

    [registered] = await published(session, new_guardian)
    assert registered.type == "identity.person.registered"
    assert {k: registered.payload[k] for k in ("roles", "display_name", "school_id", "birth_year", "under_14")} == {
        "roles": ["guardian"], "display_name": "王芳", "school_id": None, "birth_year": None, "under_14": None,
    }
    versions.append(registered.payload["version"])
    assert len(set(versions)) == len(versions) and min(versions) >= 1
    # A guardian already registered is only linked, not published again.
    assert types(await published(session, known.id)) == ["identity.person.registered"]


async def test_a_refused_import_publishes_nothing(gw, session):
    school = await make_school(session)
    data = csv_file(
        HEADER, f"林小雨,{id_number(years_ago(12))},{school.name},7,王芳,13900003333,母亲", f"坏行,123,{school.name},7,王芳,13900003333,母亲"
    )
    r = await gw.client.post(URL, files=upload(data), headers=await bearer(gw.app, roles=["admin"]))
    assert r.status_code == 422 and r.json()["code"] == "import_rejected"
    # No person of the school was published (nor written).
    stored = await session.execute(
        text("SELECT count(*) FROM events.event WHERE type = 'identity.person.registered' AND payload->>'school_id' = :s"),
        {"s": str(school.id)},
    )
    assert stored.scalar_one() == 0
    assert (await session.execute(select(UserAccount.id).where(UserAccount.school_id == school.id))).all() == []
