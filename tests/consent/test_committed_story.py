"""A consent's life with real commits: given, shared under, ended by unlinking the guardian; each step
read back from another connection and asked of the gateway the way services ask it."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from services.gateway.consent.models import Consent, ConsentEnd
from services.gateway.identity.models import GuardianLink, Partner, PiiAccessLog
from services.gateway.tokens import service as tokens
from shared.consent import ConsentClient
from shared.db import sessionmaker
from shared.service_client import ServiceTokenProvider
from tests.consent.test_consent import years_ago
from tests.identity.committed import forget, fresh_connection, served_gateway
from tests.identity.factories import link, make_school, make_student, make_user
from tests.identity.tokens import bearer


async def test_unlinking_the_guardian_ends_the_consent_for_good(database_url, engine):
    async with sessionmaker(engine)() as s, s.begin():
        school = await make_school(s)
        child = await make_student(s, school, born=years_ago(10, days=30))
        guardian = await make_user(s, "guardian")
        await link(s, guardian, child)
        partner = Partner(id=uuid.uuid4(), name=f"大学-{uuid.uuid4().hex[:6]}")
        s.add(partner)
        await s.flush()
        service_client, service_secret = await tokens.create_client(
            s, client_id=f"courses-{uuid.uuid4().hex[:6]}", name="courses", role="service", scopes=[], partner_id=None
        )
        partner_client, partner_secret = await tokens.create_client(
            s, client_id=f"uni-{uuid.uuid4().hex[:6]}", name="uni", role="partner", scopes=[], partner_id=partner.id
        )
    try:
        async with served_gateway(database_url) as gw:
            consents = ConsentClient(gw.url, ServiceTokenProvider(f"{gw.url}/auth/token", service_client.client_id, service_secret))
            r = await gw.http.post(
                "/auth/token",
                data={"grant_type": "client_credentials", "client_id": partner_client.client_id, "client_secret": partner_secret},
            )
            university = {"Authorization": f"Bearer {r.json()['access_token']}"}
            admin_id = str(uuid.uuid4())
            admin = await bearer(gw.app, client_id=admin_id, roles=["admin"])
            try:
                body = {"student_id": str(child.id), "purpose": "partner_sharing", "partner_id": str(partner.id), "text_version": "partner-sharing-v1"}
                r = await gw.http.post("/consents", json=body, headers=await bearer(gw.app, guardian))
                assert r.status_code == 201, r.text
                consent_id = uuid.UUID(r.json()["id"])
                assert (await consents.check(child.id, "partner_sharing", partner_id=partner.id)).holds
                assert (await gw.http.get(f"/partner/students/{child.id}", headers=university)).status_code == 200

                r = await gw.http.delete(f"/identity/students/{child.id}/guardians/{guardian.id}", headers=admin)
                assert r.status_code == 204
                # Asked right after, the way services ask: no.
                status = await consents.check(child.id, "partner_sharing", partner_id=partner.id)
                assert (status.holds, status.allowed, status.consent_id) == (False, False, None)
                assert (await gw.http.get(f"/partner/students/{child.id}", headers=university)).status_code == 403
                history = (await gw.http.get("/consents", params={"student_id": str(child.id)}, headers=admin)).json()["items"]
                assert [(c["id"], c["end_reason"], c["ended_by"]) for c in history] == [(str(consent_id), "guardian_unlinked", admin_id)]
            finally:
                await consents.aclose()

        # What was committed, read from a connection of its own.
        async with fresh_connection(database_url) as conn:
            stored = (await conn.execute(select(Consent).where(Consent.id == consent_id))).one()
            links = (await conn.execute(select(GuardianLink).where(GuardianLink.student_id == child.id))).all()
            shares = (await conn.execute(select(PiiAccessLog).where(PiiAccessLog.student_id == child.id))).all()
        assert (stored.end_reason, stored.ended_by) == (ConsentEnd.guardian_unlinked, admin_id)
        assert stored.ended_at is not None and links == []
        # One share, before the end, under the consent; none after.
        assert [(row.consent_id, row.reader_id) for row in shares] == [(consent_id, partner_client.client_id)]
        assert shares[0].at <= stored.ended_at
    finally:
        await forget(engine, schools=[school.id], users=[guardian.id], partners=[partner.id], clients=[service_client.client_id, partner_client.client_id])
