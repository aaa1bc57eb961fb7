"""A guardian's consent holds only while they are the child's guardian: unlinking or disabling them
ends it, in the same transaction, and the consent history and the access log say so."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, update

from services.gateway.identity.models import GuardianLink, UserAccount
from tests.consent.test_consent import _check, _family, _give, _partner
from tests.consent.test_partner_api import _client_token, _seen
from tests.identity.factories import link, make_user
from tests.identity.tokens import bearer


async def _consent(gw, guardian, child, purpose="participation", partner=None) -> str:
    r = await gw.client.post("/consents", json=_give(child, purpose, partner), headers=await bearer(gw.app, guardian))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _history(gw, child) -> dict[str, dict]:
    r = await gw.client.get("/consents", params={"student_id": str(child.id)}, headers=await bearer(gw.app, roles=["admin"]))
    assert r.status_code == 200, r.text
    return {c["id"]: c for c in r.json()["items"]}


async def _patch_user(gw, user, body: dict, admin: dict) -> None:
    r = await gw.client.patch(f"/identity/users/{user.id}", json=body, headers={**admin, "If-Match": "*"})
    assert r.status_code == 200, r.text


async def test_unlinking_the_guardian_who_consented_ends_their_consents_and_relinking_revives_nothing(gw, session):
    child, guardian = await _family(session, age=10)
    university = await _partner(session)
    participation = await _consent(gw, guardian, child)
    sharing = await _consent(gw, guardian, child, "partner_sharing", university)
    partner = await _client_token(gw, session, university)
    assert await _seen(gw, partner) == {str(child.id)}

    admin_id = str(uuid.uuid4())
    admin = await bearer(gw.app, client_id=admin_id, roles=["admin"])
    url = f"/identity/students/{child.id}/guardians/{guardian.id}"
    assert (await gw.client.delete(url, headers=admin)).status_code == 204

    # At once: services are told no, the partner sees nothing.
    for purpose, partner_of in (("participation", None), ("partner_sharing", university)):
        held = await _check(gw, child, purpose, partner_of)
        assert (held["holds"], held["allowed"], held["consent_id"]) == (False, False, None), purpose
    assert await _seen(gw, partner) == set()
    r = await gw.client.get(f"/partner/students/{child.id}", headers=partner)
    assert r.status_code == 403 and r.json()["code"] == "consent_required"

    # The history says when and why each ended, and who ended it.
    history = await _history(gw, child)
    for consent_id in (participation, sharing):
        ended = history[consent_id]
        assert (ended["in_force"], ended["end_reason"], ended["ended_by"]) == (False, "guardian_unlinked", admin_id)
        assert ended["ended_at"] >= ended["given_at"]

    # Linked again, the guardian must consent again: nothing comes back by itself.
    assert (await gw.client.put(url, json={"relation": "mother"}, headers=admin)).status_code == 201
    assert (await _check(gw, child))["holds"] is False
    assert await _seen(gw, partner) == set()
    assert {c["end_reason"] for c in (await _history(gw, child)).values()} == {"guardian_unlinked"}
    assert (await gw.client.post("/consents", json=_give(child), headers=await bearer(gw.app, guardian))).status_code == 201


async def test_disabling_a_guardian_ends_every_consent_they_gave_and_re_enabling_revives_nothing(gw, session):
    child, guardian = await _family(session, age=9)
    sibling, _ = await _family(session, age=12)
    await link(session, guardian, sibling)
    given = [await _consent(gw, guardian, child), await _consent(gw, guardian, sibling)]
    admin = await bearer(gw.app, roles=["admin"])

    await _patch_user(gw, guardian, {"disabled": True}, admin)
    for kid in (child, sibling):
        assert (await _check(gw, kid))["holds"] is False
    ended = {**await _history(gw, child), **await _history(gw, sibling)}
    assert [ended[c]["end_reason"] for c in given] == ["guardian_disabled", "guardian_disabled"]

    await _patch_user(gw, guardian, {"disabled": False}, admin)
    assert (await _check(gw, child))["holds"] is False
    assert (await _history(gw, child))[given[0]]["end_reason"] == "guardian_disabled"


async def test_taking_away_the_guardian_role_ends_their_consents(gw, session):
    child, guardian = await _family(session, age=11)
    given = await _consent(gw, guardian, child)
    await _patch_user(gw, guardian, {"roles": ["mentor"]}, await bearer(gw.app, roles=["admin"]))
    assert (await _check(gw, child))["holds"] is False
    assert (await _history(gw, child))[given]["end_reason"] == "guardian_role_removed"


async def test_the_other_guardians_consent_and_the_students_own_are_untouched(gw, session):
    child, mother = await _family(session, age=10)
    father = await make_user(session, "guardian")
    await link(session, father, child, "father")
    university = await _partner(session)
    by_mother = await _consent(gw, mother, child)
    teen, teen_guardian = await _family(session, age=15)
    by_teen = await _consent(gw, teen, teen, "partner_sharing", university)
    admin = await bearer(gw.app, roles=["admin"])

    assert (await gw.client.delete(f"/identity/students/{child.id}/guardians/{father.id}", headers=admin)).status_code == 204
    assert (await gw.client.delete(f"/identity/students/{teen.id}/guardians/{teen_guardian.id}", headers=admin)).status_code == 204
    await _patch_user(gw, father, {"disabled": True}, admin)
    assert (await _check(gw, child))["consent_id"] == by_mother
    assert (await _check(gw, teen, "partner_sharing", university))["consent_id"] == by_teen
    # Changing anything else about a guardian leaves their consents alone.
    await _patch_user(gw, mother, {"display_name": "新名字"}, admin)
    assert (await _check(gw, child))["consent_id"] == by_mother


async def test_the_rule_itself_refuses_a_consent_whose_guardian_is_no_longer_a_guardian(gw, session):
    """Whatever changed the guardian (a script, a restore, a path that forgot to close the consent),
    an open consent of someone who is no longer the child's guardian holds nowhere."""
    university = await _partner(session)
    partner = await _client_token(gw, session, university)
    for change in ("unlinked", "disabled", "not a guardian"):
        child, guardian = await _family(session, age=10)
        await _consent(gw, guardian, child)
        await _consent(gw, guardian, child, "partner_sharing", university)
        assert (await _check(gw, child))["holds"] is True
        if change == "unlinked":
            await session.execute(delete(GuardianLink).where(GuardianLink.guardian_id == guardian.id))
        elif change == "disabled":
            await session.execute(update(UserAccount).where(UserAccount.id == guardian.id).values(disabled=True))
        else:
            await session.execute(update(UserAccount).where(UserAccount.id == guardian.id).values(roles=["mentor"]))
        held = await _check(gw, child)
        assert (held["holds"], held["allowed"]) == (False, False), change
        assert (await _check(gw, child, "partner_sharing", university))["allowed"] is False, change
        assert str(child.id) not in await _seen(gw, partner), change
        assert (await gw.client.get(f"/partner/students/{child.id}", headers=partner)).status_code == 403, change


async def test_a_guardian_no_longer_in_office_cannot_consent_or_withdraw_with_a_token_still_alive(gw, session):
    child, guardian = await _family(session, age=10)
    given = await _consent(gw, guardian, child)
    token = await bearer(gw.app, guardian)  # issued before the change, valid for minutes more
    await session.execute(update(UserAccount).where(UserAccount.id == guardian.id).values(disabled=True))
    r = await gw.client.post("/consents", json=_give(child, "partner_sharing", await _partner(session)), headers=token)
    assert r.status_code == 404 and r.json()["code"] == "student_not_found"
    r = await gw.client.post(f"/consents/{given}/withdraw", headers=token)
    assert r.status_code == 404 and r.json()["code"] == "consent_not_found"


async def test_an_ended_consent_cannot_be_withdrawn_again_and_the_answer_says_why(gw, session):
    child, guardian = await _family(session, age=10)
    other = await make_user(session, "guardian")
    await link(session, other, child, "father")
    given = await _consent(gw, guardian, child)
    admin = await bearer(gw.app, roles=["admin"])
    assert (await gw.client.delete(f"/identity/students/{child.id}/guardians/{guardian.id}", headers=admin)).status_code == 204
    r = await gw.client.post(f"/consents/{given}/withdraw", headers=await bearer(gw.app, other))
    assert r.status_code == 409 and r.json()["code"] == "consent_already_withdrawn"
    assert "guardian_unlinked" in r.json()["detail"]


async def test_the_access_log_names_the_consent_of_each_share_and_says_when_it_ended(gw, session):
    child, guardian = await _family(session, age=10)
    university = await _partner(session)
    sharing = await _consent(gw, guardian, child, "partner_sharing", university)
    partner = await _client_token(gw, session, university)
    assert (await gw.client.get(f"/partner/students/{child.id}", headers=partner)).status_code == 200
    admin = await bearer(gw.app, roles=["admin"])

    async def log() -> list[dict]:
        r = await gw.client.get("/identity/access-log", params={"student_id": str(child.id)}, headers=admin)
        assert r.status_code == 200, r.text
        return r.json()["items"]

    [share] = await log()
    assert share["consent"] == {"id": sharing, "in_force": True, "ended_at": None, "end_reason": None}

    assert (await gw.client.delete(f"/identity/students/{child.id}/guardians/{guardian.id}", headers=admin)).status_code == 204
    # The partner asks again, one by one and by listing: refused, and nothing more is logged.
    assert (await gw.client.get(f"/partner/students/{child.id}", headers=partner)).status_code == 403
    assert await _seen(gw, partner) == set()
    [share] = await log()
    assert share["consent"]["id"] == sharing
    assert (share["consent"]["in_force"], share["consent"]["end_reason"]) == (False, "guardian_unlinked")
    assert share["consent"]["ended_at"] >= share["at"]
