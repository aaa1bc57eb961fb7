"""Calls to the mentoring service as the world's people."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from services.mentoring.db import directory
from shared.directory.store import apply
from shared.events.contracts.identity import PersonRecord

from tests.matrix.world import World


async def call(w: World, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return await w.clients["mentoring"].request(method, path, headers=w.caller(who).headers, **kwargs)


LAB = {"kind": "lab", "type": "researcher", "affiliation": "市科学技术研究院", "disciplines": ["math"], "lab_capacity": 3}


async def register_mentor(w: World, **entry: Any) -> str:
    """A new person with the mentor role in the directory, registered by staff (a lab mentor in math with 3 places unless told)."""
    person = uuid.uuid4()
    await apply(w.tx.session, directory.tables, [PersonRecord(version=10**9, person_id=person, roles=["mentor"], display_name="王老师")])
    await w.tx.session.flush()
    r = await call(w, "staff", "PUT", f"/mentors/{person}", json={**LAB, **entry})
    assert r.status_code == 200, r.text
    return str(person)
