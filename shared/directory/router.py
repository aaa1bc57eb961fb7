"""The directory's routes in every domain service: the students the caller may see, as this service knows them.

A frontend reads people from the gateway (`/identity/...`); these routes show what one
service's read model holds, scoped exactly as that service scopes its own lists
(shared/directory/queries.py `visible`), so a developer or an operator can see what the
service sees. `/directory/status` says when the read model was last loaded and how much it holds.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from shared.auth import require
from shared.db import DbSession
from shared.pagination import Page, PageParams, paginate
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter(prefix="/directory", tags=["directory"])

StudentReader = Annotated[Principal, Depends(require("admin", "staff", "coordinator", "guardian", "student"))]
Operator = Annotated[Principal, Depends(require("admin", "staff", "service"))]


class DirectoryGuardian(BaseModel):
    guardian_id: uuid.UUID
    display_name: str | None = Field(description="Null when this service has not heard of the guardian's account yet.")
    relation: str | None


class DirectoryStudent(BaseModel):
    id: uuid.UUID
    display_name: str
    school_id: uuid.UUID | None
    school_name: str | None
    grade: int | None
    birth_year: int | None
    under_14: bool | None = Field(description="Null when the birth date is unknown (consent rules treat that as under 14).")
    disabled: bool
    guardians: list[DirectoryGuardian]


class DirectoryStatus(BaseModel):
    service: str
    loaded: bool = Field(description="False until the first load from the gateway has finished.")
    synced_at: datetime | None = Field(description="When the last full load from the gateway (resync) committed.")
    people: int
    schools: int
    partners: int
    guardian_links: int = Field(description="Links in force.")
    consents: int = Field(description="Consents in force.")


def _directory(request: Request):
    return request.app.state.directory


async def _students(session, directory, person_ids: list[uuid.UUID]) -> list[DirectoryStudent]:
    t = directory.tables
    if not person_ids:
        return []
    p, s, link = t.person, t.school, t.guardian_link
    rows = (
        await session.execute(
            select(p, s.c.name.label("school_name")).outerjoin(s, s.c.school_id == p.c.school_id).where(p.c.person_id.in_(person_ids))
        )
    ).mappings().all()
    guardian = p.alias("guardian")
    links = (
        await session.execute(
            select(link.c.student_id, link.c.guardian_id, link.c.relation, guardian.c.display_name)
            .outerjoin(guardian, guardian.c.person_id == link.c.guardian_id)
            .where(link.c.student_id.in_(person_ids), link.c.linked.is_(True))
            .order_by(link.c.student_id, link.c.guardian_id)
        )
    ).all()
    by_student: dict[uuid.UUID, list[DirectoryGuardian]] = {}
    for row in links:
        by_student.setdefault(row.student_id, []).append(
            DirectoryGuardian(guardian_id=row.guardian_id, display_name=row.display_name, relation=row.relation)
        )
    by_id = {
        r["person_id"]: DirectoryStudent(
            id=r["person_id"], display_name=r["display_name"], school_id=r["school_id"], school_name=r["school_name"],
            grade=r["grade"], birth_year=r["birth_year"], under_14=r["under_14"], disabled=r["disabled"],
            guardians=by_student.get(r["person_id"], []),
        )
        for r in rows
    }
    return [by_id[i] for i in person_ids if i in by_id]


@router.get("/students", response_model=Page[DirectoryStudent], summary="List the students you may see, as this service knows them")
async def list_directory_students(
    principal: StudentReader,
    request: Request,
    session: DbSession,
    page: PageParams,
    school_id: Annotated[uuid.UUID | None, Query(description="Only this school's students.")] = None,
    grade: Annotated[int | None, Query(ge=1, le=12, description="Only this grade.")] = None,
) -> Page[DirectoryStudent]:
    """admin and staff see every student; a coordinator their school's; a guardian their
    children; a student themself. In id order."""
    directory = _directory(request)
    p = directory.tables.person
    stmt = select(p.c.person_id).where(directory.visible_students(principal))
    if school_id is not None:
        stmt = stmt.where(p.c.school_id == school_id)
    if grade is not None:
        stmt = stmt.where(p.c.grade == grade)
    ids = await paginate(session, stmt, order_by=(p.c.person_id,), params=page)
    return Page(items=await _students(session, directory, ids.items), next_cursor=ids.next_cursor)


@router.get(
    "/students/{student_id}", response_model=DirectoryStudent, responses=problem_responses("student_not_found"),
    summary="Read a student you may see, as this service knows them",
)
async def get_directory_student(
    principal: StudentReader, request: Request, session: DbSession, student_id: uuid.UUID
) -> DirectoryStudent:
    """404 `student_not_found` for a student out of your scope, as for one that does not exist."""
    directory = _directory(request)
    if not await directory.may_see(session, principal, student_id):
        raise ProblemError("student_not_found", student_id=student_id)
    return (await _students(session, directory, [student_id]))[0]


@router.get("/status", response_model=DirectoryStatus, summary="What this service's read model holds")
async def directory_status(_: Operator, request: Request, session: DbSession) -> DirectoryStatus:
    """For operators: whether the first load finished, when the last resync committed
    (`sprout directory resync SERVICE`), and how many records the read model holds."""
    return DirectoryStatus(service=request.app.state.service_name, **await _directory(request).status(session))
