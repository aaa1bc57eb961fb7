"""GET /directory/...: the current directory for a service's read model, paged by id, each item the
record its latest event carried."""

from __future__ import annotations

import uuid

import pytest

from services.gateway.identity.models import UserAccount
from tests.consent.test_consent import _give, _partner, years_ago
from tests.directory_gateway.support import published
from tests.identity.factories import link, make_school, make_student, make_user, unique
from tests.identity.tokens import bearer

ROUTES = ("/directory/people", "/directory/schools", "/directory/partners", "/directory/guardian-links", "/directory/consents")


async def _service(gw) -> dict[str, str]:
    return await bearer(gw.app, client_id="courses-service", roles=["service"], kind="client")


async def _everything(gw, path: str, headers: dict[str, str], *, limit: int = 200) -> list[dict]:
    items: list[dict] = []
    cursor = None
    for _ in range(1000):
        r = await gw.client.get(path, params={"limit": limit, **({"cursor": cursor} if cursor else {})}, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        if (cursor := page["next_cursor"]) is None:
            return items
    raise AssertionError(f"{path}: too many pages")


@pytest.mark.parametrize("path", ROUTES)
async def test_only_our_services_and_admin_may_read_the_snapshot(gw, session, path):
    school = await make_school(session)
    for role in ("student", "staff", "coordinator", "guardian", "partner", "mentor"):
        r = await gw.client.get(path, headers=await bearer(gw.app, roles=[role], school_id=school.id))
        assert (r.status_code, r.json()["code"]) == (403, "forbidden"), role
    assert (await gw.client.get(path)).status_code == 401
    partner_client = await bearer(gw.app, client_id="uni-client", roles=["partner"], kind="client")
    assert (await gw.client.get(path, headers=partner_client)).status_code == 403
    for headers in (await _service(gw), await bearer(gw.app, roles=["admin"])):
        r = await gw.client.get(path, headers=headers)
        assert r.status_code == 200, r.text
        assert set(r.json()) == {"items", "next_cursor"}
    r = await gw.client.get(path, params={"limit": 201}, headers=await _service(gw))
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")


async def test_pages_follow_the_id_order_without_a_repeat_or_a_gap(gw, session):
    made = {str((await make_school(session, name=unique("分页中学"))).id) for _ in range(5)}
    items = await _everything(gw, "/directory/schools", await _service(gw), limit=2)
    ids = [item["school_id"] for item in items]
    assert made <= set(ids)
    assert ids == sorted(ids, key=uuid.UUID) and len(set(ids)) == len(ids)
    r = await gw.client.get("/directory/schools", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=await _service(gw))
    assert (r.status_code, r.json()["code"]) == (400, "invalid_cursor")


async def test_each_item_is_what_the_latest_event_of_its_record_said(gw, session):
    admin = await bearer(gw.app, roles=["admin"])
    school = await make_school(session)
    child = await make_student(session, school, born=years_ago(10))
    guardian = await make_user(session, "guardian")
    await link(session, guardian, child)
    r = await gw.client.patch(f"/identity/users/{child.id}", json={"grade": 6}, headers={**admin, "If-Match": "*"})
    assert r.status_code == 200, r.text
    r = await gw.client.put(f"/identity/students/{child.id}/guardians/{guardian.id}", json={"relation": "guardian"}, headers=admin)
    assert r.status_code == 200, r.text
    r = await gw.client.post("/identity/partners", json={"name": unique("华侨大学")}, headers=admin)
    partner = r.json()["id"]
    r = await gw.client.post("/consents", json=_give(child), headers=await bearer(gw.app, guardian))
    consent = r.json()["id"]

    service = await _service(gw)

    async def latest(subject, *types: str) -> dict:
        return [e for e in await published(session, subject) if e.type in types][-1].payload

    people = {p["person_id"]: p for p in await _everything(gw, "/directory/people", service)}
    assert people[str(child.id)] == await latest(child.id, "identity.person.registered", "identity.person.updated")
    assert people[str(child.id)]["grade"] == 6
    assert people[str(guardian.id)] == await latest(guardian.id, "identity.person.registered", "identity.person.updated")
    schools = {s["school_id"]: s for s in await _everything(gw, "/directory/schools", service)}
    assert schools[str(school.id)] == await latest(school.id, "identity.school.registered", "identity.school.updated")
    partners = {p["partner_id"]: p for p in await _everything(gw, "/directory/partners", service)}
    assert partners[partner] == await latest(uuid.UUID(partner), "identity.partner.registered", "identity.partner.updated")
    links = {(x["student_id"], x["guardian_id"]): x for x in await _everything(gw, "/directory/guardian-links", service)}
    assert links[(str(child.id), str(guardian.id))] == await latest(child.id, "identity.guardian.linked")
    assert links[(str(child.id), str(guardian.id))]["relation"] == "guardian"
    consents = {c["consent_id"]: c for c in await _everything(gw, "/directory/consents", service)}
    assert consents[consent] == await latest(child.id, "identity.consent.given")


async def test_only_what_exists_now_links_that_exist_and_consents_in_force(gw, session):
    admin = await bearer(gw.app, roles=["admin"])
    school = await make_school(session)
    child = await make_student(session, school, born=years_ago(10))
    kept, dropped = await make_user(session, "guardian"), await make_user(session, "guardian")
    await link(session, kept, child)
    await link(session, dropped, child)
    given = []
    for guardian, purpose, partner in ((kept, "participation", None), (dropped, "partner_sharing", await _partner(session))):
        r = await gw.client.post("/consents", json=_give(child, purpose, partner), headers=await bearer(gw.app, guardian))
        assert r.status_code == 201, r.text
        given.append(r.json()["id"])
    r = await gw.client.post("/consents", json=_give(child, "partner_sharing", await _partner(session)), headers=await bearer(gw.app, kept))
    withdrawn = r.json()["id"]
    assert (await gw.client.post(f"/consents/{withdrawn}/withdraw", headers=await bearer(gw.app, kept))).status_code == 200
    r = await gw.client.delete(f"/identity/students/{child.id}/guardians/{dropped.id}", headers=admin)
    assert r.status_code == 204

    service = await _service(gw)
    links = {(x["student_id"], x["guardian_id"]) for x in await _everything(gw, "/directory/guardian-links", service)}
    assert (str(child.id), str(kept.id)) in links and (str(child.id), str(dropped.id)) not in links
    consents = {c["consent_id"] for c in await _everything(gw, "/directory/consents", service)}
    # The dropped guardian's consent ended with their link; the withdrawn one is no longer in force.
    assert given[0] in consents and given[1] not in consents and withdrawn not in consents


async def test_a_row_the_directory_never_published_is_not_in_it(gw, session):
    # Written around the gateway's code (as ops might by hand): version 0, never an event.
    stray = UserAccount(id=uuid.uuid4(), username=unique("stray"), display_name="手工", roles=["mentor"])
    session.add(stray)
    await session.flush()
    assert stray.directory_version == 0 and await published(session, stray.id) == []
    people = {p["person_id"] for p in await _everything(gw, "/directory/people", await _service(gw))}
    assert str(stray.id) not in people
