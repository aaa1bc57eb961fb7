"""Our services' consent checks against the real gateway's limits: a short wait is waited out, a long one is an honest 503, never "consent unverifiable"."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fastapi import Depends
from sqlalchemy import delete

from services.courses.settings import CoursesSettings
from services.gateway.app import create_app as gateway_app
from services.gateway.identity.models import UserAccount
from services.gateway.tokens import service as tokens
from services.gateway.tokens.models import Client
from shared.app import create_service_app, service_tree
from shared.auth import require
from shared.consent import ConsentClient, Consents
from shared.db import sessionmaker
from shared.problems import ProblemError
from shared.routes import APIRouter
from shared.service_client import ServiceTokenProvider
from tests.conftest import running_app
from tests.limits.support import committed_student
from tests.identity.tokens import bearer
from tests.servers import serve
from tests.tokens.support import gateway_settings

COURSES_DIR = Path(__file__).resolve().parents[2] / "services" / "courses"


@dataclass
class World:
    student: UserAccount  # 15: participation needs no recorded consent, so every check answers yes
    client_id: str
    secret: str
    # Gateways that let this service ask once, then refill one check a second (brief) or a minute (tight).
    brief: tuple[object, str]
    tight: tuple[object, str]
    # One whose token endpoint gives this address one token a minute.
    few_tokens: tuple[object, str]

    def consents(self, url: str) -> ConsentClient:
        return ConsentClient(url, ServiceTokenProvider(f"{url}/auth/token", self.client_id, self.secret))


@pytest.fixture(scope="module")
async def w(database_url: str, engine) -> AsyncIterator[World]:
    async with sessionmaker(engine)() as s, s.begin():
        client, secret = await tokens.create_client(
            s, client_id=f"courses-{uuid.uuid4().hex[:6]}", name="courses", role="service", scopes=[], partner_id=None
        )

    def app(**limits):
        return gateway_app(gateway_settings(database_url, **limits))

    def budget(per_minute: int) -> dict:
        # The service budget, and the general one too, so the limit bites whichever applies.
        return {"rate_limit_service_per_minute": per_minute, "rate_limit_service_burst": 1,
                "rate_limit_per_minute": per_minute, "rate_limit_burst": 1}

    brief = app(**budget(60))
    tight = app(**budget(1))
    few_tokens = app(rate_limit_token_per_minute=1, rate_limit_token_burst=1)
    try:
        async with (
            committed_student(engine, born=date(date.today().year - 15, 1, 1), grade=9) as student,
            serve(brief) as brief_url, serve(tight) as tight_url, serve(few_tokens) as few_url,
        ):
            yield World(student, client.client_id, secret, (brief, brief_url), (tight, tight_url), (few_tokens, few_url))
    finally:
        async with sessionmaker(engine)() as s, s.begin():
            await s.execute(delete(Client).where(Client.client_id == client.client_id))


async def test_a_check_the_gateway_asks_to_wait_a_second_for_is_asked_again_and_answered(w):
    client = w.consents(w.brief[1])
    try:
        first = await client.require(w.student.id)
        # The service's bucket is empty now: the gateway answers 429, Retry-After: 1.
        second = await client.require(w.student.id)
    finally:
        await client.aclose()
    assert first.allowed and second.allowed


async def test_a_limit_that_holds_is_an_honest_503_telling_when_to_try_again(w):
    client = w.consents(w.tight[1])
    try:
        await client.require(w.student.id)
        with pytest.raises(ProblemError) as busy:
            await client.require(w.student.id)
    finally:
        await client.aclose()
    assert (busy.value.code, busy.value.status) == ("consent_check_busy", 503)
    # About a minute (the bucket refills one check a minute), too long to hold a person's request.
    assert 30 < int(busy.value.headers["Retry-After"]) == busy.value.params["retry_after"] <= 60


async def test_a_token_endpoint_limit_is_the_same_honest_503(w):
    first, second = w.consents(w.few_tokens[1]), w.consents(w.few_tokens[1])
    try:
        await first.require(w.student.id)
        # A second replica starting now cannot get its token for a minute.
        with pytest.raises(ProblemError) as busy:
            await second.require(w.student.id)
    finally:
        await first.aclose()
        await second.aclose()
    assert busy.value.code == "consent_check_busy" and 30 < int(busy.value.headers["Retry-After"]) <= 60


async def test_the_person_using_the_service_sees_a_503_with_retry_after_not_a_missing_consent(w, database_url):
    router = APIRouter()

    @router.post("/registrations/{student_id}", status_code=201, dependencies=[Depends(require("staff"))])
    async def register(student_id: uuid.UUID, consents: Consents) -> dict:
        await consents.require(student_id, purpose="participation")
        return {"student_id": str(student_id)}

    # A gateway of its own: this service's bucket there is full.
    gateway = gateway_app(gateway_settings(
        database_url, rate_limit_service_per_minute=1, rate_limit_service_burst=1, rate_limit_per_minute=1, rate_limit_burst=1,
    ))
    async with serve(gateway) as url:
        settings = CoursesSettings(
            database_url=database_url, env="test", events_enabled=False, gateway_url=url,
            service_client_id=w.client_id, service_client_secret=w.secret,
        )
        app = create_service_app(
            settings, title="courses (test)", description="-", routers=[router],
            migration_tree=service_tree("courses", COURSES_DIR),
        )
        staff = await bearer(gateway, roles=["staff"])
        async with running_app(app) as client:
            answers = [await client.post(f"/registrations/{w.student.id}", headers=staff) for _ in range(2)]
    assert answers[0].status_code == 201
    refused = answers[1]
    assert refused.status_code == 503 and refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "consent_check_busy"
    assert 30 < int(refused.headers["retry-after"]) <= 60
