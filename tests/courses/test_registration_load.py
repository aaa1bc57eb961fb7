"""The issue's acceptance under load, with real commits: N students (2,000 unless
SPROUT_REGISTRATION_LOAD_STUDENTS says) register at once for a section of 100 seats, over real
HTTP, through two replicas of the courses service (`sprout serve courses`, each its own process) on two ports (a bounded pool of connections
each); exactly 100 are confirmed, the rest waitlisted in one consistent order, no student twice;
then a drop makes exactly one offer, to the first waitlisted.

Not in test_registration.py: the matrix world there holds its transaction (and the record
chain's lock, which every append takes) open for the whole module, so nothing another
connection appends to courses' chain could commit while it lives.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from services.courses.models import Section
from services.courses.registration.models import Offer, OfferStatus, Registration, RegistrationStatus
from services.gateway.app import create_app as gateway_app
from shared import clock
from shared.db import sessionmaker
from shared.tokens import Principal
from tests.courses.crowd import enrol, open_sections
from tests.identity.committed import fresh_connection
from tests.identity.tokens import mint
from tests.perf.harness import free_port, service_process
from tests.servers import bound_socket, serve
from tests.tokens.support import gateway_settings

STUDENTS = int(os.environ.get("SPROUT_REGISTRATION_LOAD_STUDENTS", "2000"))
SEATS = 100
CONNECTIONS = 8  # per replica: more only queue on the seat's row and the record chain's lock


@asynccontextmanager
async def replica(env: dict[str, str], logs: Path, name: str) -> AsyncIterator[str]:
    """A replica of the courses service: `sprout serve courses` in a process of its own, as in production."""
    (logs / name).mkdir()
    with ExitStack() as stack:
        # Started from a thread: its readiness is polled while this loop serves the gateway it asks for keys.
        url, _ = await asyncio.to_thread(stack.enter_context, service_process("courses", free_port(), env, logs / name))
        yield url


async def test_the_city_registers_at_once_through_two_replicas_and_exactly_the_seats_are_confirmed(database_url, engine):
    school = uuid.uuid4()
    students = [uuid.uuid4() for _ in range(STUDENTS)]
    staff = Principal(id=str(uuid.uuid4()), kind="user", roles=frozenset({"staff"}))
    now = clock.now()
    async with sessionmaker(engine)() as s, s.begin():
        await enrol(s, students, school, grade=8, at=now - timedelta(days=1))
        section = (await open_sections(s, staff, sections=1, capacity=SEATS, now=now)).sections[0]

    gateway_sock, gateway_url = bound_socket()
    gateway = gateway_app(gateway_settings(database_url))

    env = {"SPROUT_DATABASE_URL": database_url, "SPROUT_ENV": "test", "SPROUT_EVENTS_ENABLED": "false", "SPROUT_GATEWAY_URL": gateway_url,
           "SPROUT_DIRECTORY_BOOTSTRAP": "false", "SPROUT_DATABASE_POOL_SIZE": str(CONNECTIONS), "SPROUT_LOG_LEVEL": "warning"}
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    logs = Path(tempfile.mkdtemp(prefix="registration-load-"))
    async with serve(gateway, gateway_sock), replica(env, logs, "a") as first_url, replica(env, logs, "b") as second_url:
        tokens = [await mint(gateway, subject=str(p), roles=["student"]) for p in students]
        staff_token = await mint(gateway, subject=staff.id, roles=["staff"])
        async with httpx.AsyncClient(base_url=first_url, timeout=120, limits=limits) as one, \
                httpx.AsyncClient(base_url=second_url, timeout=120, limits=limits) as two:
            replicas = (one, two)
            # The first student taps twice, once on each replica.
            callers = [*enumerate(tokens), (1, tokens[0])]

            async def register(i: int, token: str) -> httpx.Response:
                return await replicas[i % 2].post("/registrations", json={"section_id": str(section.id)},
                                                  headers={"Authorization": f"Bearer {token}"})

            answers = await asyncio.gather(*(register(i, t) for i, t in callers))
            staff_headers = {"Authorization": f"Bearer {staff_token}"}
            page = (await two.get(f"/sections/{section.id}/roster", params={"status": "waitlisted", "limit": 200},
                                  headers=staff_headers)).json()["items"]

            bodies = [a.json() for a in answers]
            assert {a.status_code for a in answers[:-1]} == {201}, [a.text for a in answers if a.status_code != 201][:3]
            assert answers[-1].status_code in (200, 201) and bodies[-1]["id"] == bodies[0]["id"]
            statuses = [b["status"] for b in bodies[:-1]]
            assert statuses.count("confirmed") == SEATS and statuses.count("waitlisted") == STUDENTS - SEATS

            async with fresh_connection(database_url) as conn:
                rows = (await conn.execute(select(Registration.id, Registration.student_id, Registration.status)
                                           .where(Registration.section_id == section.id)
                                           .order_by(Registration.requested_at, Registration.id))).all()
                taken = (await conn.execute(select(Section.taken).where(Section.id == section.id))).scalar_one()
            assert len(rows) == STUDENTS and len({r.student_id for r in rows}) == STUDENTS and taken == SEATS
            confirmed = [r for r in rows if r.status is RegistrationStatus.confirmed]
            waitlisted = [r for r in rows if r.status is RegistrationStatus.waitlisted]
            assert len(confirmed) == SEATS and len(waitlisted) == STUDENTS - SEATS
            # One order, the same through either replica: the roster's positions follow the requests' times.
            assert [(x["id"], x["position"]) for x in page] == [(str(r.id), n) for n, r in enumerate(waitlisted[:200], start=1)]

            # A drop makes exactly one offer, to the first waitlisted student; the seat stays taken.
            dropped = await one.post(f"/registrations/{confirmed[0].id}/drop", headers=staff_headers)
            assert dropped.status_code == 200 and dropped.json()["status"] == "dropped", dropped.text
            async with fresh_connection(database_url) as conn:
                offers = (await conn.execute(select(Offer.registration_id, Offer.status).where(Offer.section_id == section.id))).all()
                taken = (await conn.execute(select(Section.taken).where(Section.id == section.id))).scalar_one()
                counted = (await conn.execute(select(func.count()).select_from(Registration).where(
                    Registration.section_id == section.id, Registration.status == RegistrationStatus.waitlisted))).scalar_one()
            assert offers == [(waitlisted[0].id, OfferStatus.open)] and taken == SEATS and counted == STUDENTS - SEATS - 1
