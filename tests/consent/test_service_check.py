"""A service asks the real gateway, over HTTP with its own client-credentials token, whether a student's
consent holds, and refuses to process a child's data without it (shared/consent.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import Depends
from sqlalchemy import delete

from services.courses.settings import CoursesSettings
from services.gateway.app import create_app as gateway_app
from services.gateway.consent.models import Consent
from services.gateway.identity.models import GuardianLink, Partner, PiiAccessLog, School, UserAccount
from services.gateway.tokens import service as tokens
from services.gateway.tokens.models import Client, RefreshToken
from shared.app import create_service_app, service_tree
from shared.auth import require
from shared.consent import ConsentClient, Consents
from shared.db import sessionmaker
from shared.problems import ProblemError
from shared.routes import APIRouter
from shared.service_client import ServiceTokenProvider
from tests.consent.test_consent import years_ago
from tests.conftest import running_app
from tests.identity.factories import link, make_school, make_student, make_user
from tests.identity.tokens import bearer
from tests.servers import bound_socket, serve
from tests.tokens.support import gateway_settings

COURSES_DIR = Path(__file__).resolve().parents[2] / "services" / "courses"


@dataclass
class World:
    gateway: object
    url: str
    child: UserAccount  # 10 years old, a guardian linked
    guardian: UserAccount
    teen: UserAccount  # 15 years old
    partner: Partner
    client_id: str
    secret: str

    def consents(self) -> ConsentClient:
        return ConsentClient(self.url, ServiceTokenProvider(f"{self.url}/auth/token", self.client_id, self.secret))


@pytest.fixture(scope="module")
async def w(database_url: str, engine) -> AsyncIterator[World]:
    """The real gateway on a free port, and committed people and a service client it reads (deleted afterwards)."""
    async with sessionmaker(engine)() as s, s.begin():
        school = await make_school(s)
        child = await make_student(s, school, born=years_ago(10, days=30))
        teen = await make_student(s, school, born=years_ago(15, days=30), grade=9)
        guardian = await make_user(s, "guardian")
        await link(s, guardian, child)
        partner = Partner(id=uuid.uuid4(), name=f"大学-{uuid.uuid4().hex[:6]}")
        s.add(partner)
        await s.flush()
        client, secret = await tokens.create_client(
            s, client_id=f"courses-{uuid.uuid4().hex[:6]}", name="courses", role="service", scopes=[], partner_id=None
        )
    people = [child.id, teen.id, guardian.id]
    sock, url = bound_socket()
    app = gateway_app(gateway_settings(database_url))
    try:
        async with serve(app, sock):
            yield World(app, url, child, guardian, teen, partner, client.client_id, secret)
    finally:
        async with sessionmaker(engine)() as s, s.begin():
            await s.execute(delete(Consent).where(Consent.student_id.in_(people)))
            await s.execute(delete(PiiAccessLog).where(PiiAccessLog.student_id.in_(people)))
            await s.execute(delete(RefreshToken).where(RefreshToken.user_id.in_(people)))
            await s.execute(delete(GuardianLink).where(GuardianLink.student_id.in_(people)))
            await s.execute(delete(UserAccount).where(UserAccount.id.in_(people)))
            await s.execute(delete(School).where(School.id == school.id))
            await s.execute(delete(Client).where(Client.client_id == client.client_id))
            await s.execute(delete(Partner).where(Partner.id == partner.id))


@pytest.fixture
async def consents(w: World) -> AsyncIterator[ConsentClient]:
    client = w.consents()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def gateway_http(w: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=w.url, timeout=10) as http:
        yield http


async def _give(w: World, http: httpx.AsyncClient, by: UserAccount, student: UserAccount, purpose: str, partner=None) -> str:
    body = {"student_id": str(student.id), "purpose": purpose, "text_version": f"{purpose.replace('_', '-')}-v1"}
    if partner is not None:
        body["partner_id"] = str(partner.id)
    r = await http.post("/consents", json=body, headers=await bearer(w.gateway, by))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _withdraw(w: World, http: httpx.AsyncClient, by: UserAccount, consent_id: str) -> None:
    r = await http.post(f"/consents/{consent_id}/withdraw", headers=await bearer(w.gateway, by))
    assert r.status_code == 200, r.text


async def test_a_child_under_14_is_not_processed_until_a_guardian_consents(w, consents, gateway_http):
    with pytest.raises(ProblemError) as refused:
        await consents.require(w.child.id, purpose="participation")
    assert (refused.value.code, refused.value.status) == ("consent_required", 403)
    assert refused.value.params["purpose"] == "participation"

    consent_id = await _give(w, gateway_http, w.guardian, w.child, "participation")
    try:
        status = await consents.require(w.child.id, purpose="participation")
        assert (status.required, status.holds, status.allowed, status.age) == (True, True, True, 10)
        assert str(status.consent_id) == consent_id and status.text_version == "participation-v1"
    finally:
        await _withdraw(w, gateway_http, w.guardian, consent_id)
    # Asked fresh each time: the withdrawal stops the very next step.
    with pytest.raises(ProblemError) as again:
        await consents.require(w.child.id)
    assert again.value.code == "consent_required"


async def test_sharing_needs_a_consent_naming_the_partner_at_any_age(w, consents, gateway_http):
    # 15: participation needs no recorded consent, sharing always does.
    assert (await consents.require(w.teen.id, purpose="participation")).required is False
    with pytest.raises(ProblemError) as refused:
        await consents.require(w.teen.id, purpose="partner_sharing", partner_id=w.partner.id)
    assert refused.value.code == "consent_required" and refused.value.params["partner"] == w.partner.id

    consent_id = await _give(w, gateway_http, w.teen, w.teen, "partner_sharing", w.partner)
    try:
        assert (await consents.require(w.teen.id, "partner_sharing", partner_id=w.partner.id)).allowed
    finally:
        await _withdraw(w, gateway_http, w.teen, consent_id)


async def test_the_service_uses_one_token_for_many_checks(w, consents):
    for _ in range(3):
        await consents.check(w.teen.id)
    assert consents.tokens.fetches == 1


async def test_a_wrong_question_is_passed_on_and_no_answer_means_no(w, consents):
    with pytest.raises(ProblemError) as unknown:
        await consents.require(uuid.uuid4())
    assert (unknown.value.code, unknown.value.status) == ("student_not_found", 404)
    with pytest.raises(ProblemError) as no_partner:
        await consents.require(w.teen.id, purpose="partner_sharing")
    assert no_partner.value.code == "consent_partner_required"

    wrong_secret = ConsentClient(w.url, ServiceTokenProvider(f"{w.url}/auth/token", w.client_id, "not the secret"))
    no_client = ConsentClient.from_settings(CoursesSettings(env="test", gateway_url=w.url))
    sock, nobody = bound_socket()  # bound, never listening: the gateway is down
    sock.close()
    down = ConsentClient(nobody, ServiceTokenProvider(f"{nobody}/auth/token", w.client_id, w.secret), timeout=2)
    for client in (wrong_secret, no_client, down):
        try:
            with pytest.raises(ProblemError) as failed:
                await client.require(w.teen.id)
            assert (failed.value.code, failed.value.status) == ("consent_unverifiable", 503)
        finally:
            await client.aclose()


async def test_a_gateway_that_refuses_the_services_client_is_no_answer(w, engine):
    # A partner's client may not ask: the gateway answers 403, and the service refuses to go on.
    async with sessionmaker(engine)() as s, s.begin():
        partner_client, secret = await tokens.create_client(
            s, client_id=f"uni-{uuid.uuid4().hex[:6]}", name="uni", role="partner", scopes=[], partner_id=w.partner.id
        )
    client = ConsentClient(w.url, ServiceTokenProvider(f"{w.url}/auth/token", partner_client.client_id, secret))
    try:
        with pytest.raises(ProblemError) as failed:
            await client.require(w.teen.id)
        assert failed.value.code == "consent_unverifiable" and "403" in failed.value.params["reason"]
    finally:
        await client.aclose()
        async with sessionmaker(engine)() as s, s.begin():
            await s.execute(delete(Client).where(Client.client_id == partner_client.client_id))


async def test_a_service_route_answers_a_clear_problem_when_consent_is_missing(w, database_url, gateway_http):
    """A real service app (courses' settings and schema) with a route that processes a student's data."""
    router = APIRouter()

    @router.post("/registrations/{student_id}", status_code=201, dependencies=[Depends(require("staff", "coordinator"))])
    async def register(student_id: uuid.UUID, consents: Consents) -> dict:
        status = await consents.require(student_id, purpose="participation")
        return {"student_id": str(student_id), "consent_id": str(status.consent_id) if status.consent_id else None}

    settings = CoursesSettings(
        database_url=database_url, env="test", events_enabled=False, gateway_url=w.url,
        service_client_id=w.client_id, service_client_secret=w.secret,
    )
    app = create_service_app(
        settings, title="courses (test)", description="-", routers=[router],
        migration_tree=service_tree("courses", COURSES_DIR),
    )
    staff = await bearer(w.gateway, roles=["staff"])
    async with running_app(app) as client:
        r = await client.post(f"/registrations/{w.child.id}", headers={**staff, "Accept-Language": "zh-CN"})
        assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["code"] == "consent_required" and str(w.child.id) in problem["detail"]
        assert "participation" in problem["detail"] and "缺少同意" in problem["detail"]

        consent_id = await _give(w, gateway_http, w.guardian, w.child, "participation")
        try:
            r = await client.post(f"/registrations/{w.child.id}", headers=staff)
            assert r.status_code == 201 and r.json()["consent_id"] == consent_id
        finally:
            await _withdraw(w, gateway_http, w.guardian, consent_id)
        # No token: refused before anything is asked.
        assert (await client.post(f"/registrations/{w.child.id}")).status_code == 401
