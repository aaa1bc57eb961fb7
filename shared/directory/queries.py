"""The questions services ask about people, answered from their own read model, and row scoping.

    school = await directory.school_of(session, student_id)
    if not await directory.consent_holds(session, student_id, "participation"):
        raise ProblemError("consent_required", ...)

    # every list of students' rows, scoped the same way in every service:
    stmt = select(Nomination).where(directory.visible(principal, Nomination.student_id))

Answers are as current as the read model: a change at the gateway reaches it within
milliseconds (an event), so a question asked right after a change may still see the state
before it. Scoping (`visible`) reads the caller's roles from the token, and their school and
their children from the read model, so a coordinator moved to another school or a guardian
unlinked loses access as soon as the event is applied, not when the token expires.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from shared.consent_rules import OpenConsent, decide_for
from shared.directory.tables import DirectoryTables
from shared.events.contracts.identity import PersonRecord
from shared.ids import as_uuid
from shared.tokens import Principal

Purpose = Literal["participation", "partner_sharing"]

# Who sees every student.
ALL_STUDENTS_ROLES = ("admin", "staff")


class DirectoryQueries:
    """The questions, over one service's directory tables."""

    def __init__(self, tables: DirectoryTables) -> None:
        self.tables = tables

    async def person(self, session: AsyncSession, person_id: uuid.UUID) -> PersonRecord | None:
        p = self.tables.person
        row = (await session.execute(select(p).where(p.c.person_id == person_id))).mappings().first()
        if row is None:
            return None
        return PersonRecord.model_validate({k: v for k, v in row.items() if k in PersonRecord.model_fields})

    async def _value(self, session: AsyncSession, column: Any, person_id: uuid.UUID) -> Any:
        p = self.tables.person
        return (await session.execute(select(column).where(p.c.person_id == person_id))).scalar_one_or_none()

    async def school_of(self, session: AsyncSession, person_id: uuid.UUID) -> uuid.UUID | None:
        return await self._value(session, self.tables.person.c.school_id, person_id)

    async def grade_of(self, session: AsyncSession, person_id: uuid.UUID) -> int | None:
        return await self._value(session, self.tables.person.c.grade, person_id)

    async def display_name(self, session: AsyncSession, person_id: uuid.UUID) -> str | None:
        return await self._value(session, self.tables.person.c.display_name, person_id)

    async def display_names(self, session: AsyncSession, person_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The names of those of `person_ids` the read model knows, in one query (for a page of rows)."""
        if not person_ids:
            return {}
        p = self.tables.person
        stmt = select(p.c.person_id, p.c.display_name).where(p.c.person_id.in_(set(person_ids)))
        return {row.person_id: row.display_name for row in await session.execute(stmt)}

    async def school_name(self, session: AsyncSession, school_id: uuid.UUID) -> str | None:
        """The name of an enabled school of the directory, or None (unknown or disabled)."""
        s = self.tables.school
        return (await session.execute(select(s.c.name).where(s.c.school_id == school_id, s.c.disabled.is_(False)))).scalar_one_or_none()

    async def partner_name(self, session: AsyncSession, partner_id: uuid.UUID) -> str | None:
        """The name of a partner university of the directory, or None."""
        t = self.tables.partner
        return (await session.execute(select(t.c.name).where(t.c.partner_id == partner_id))).scalar_one_or_none()

    async def organisation_names(self, session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The names of the schools and partner universities among `ids` (disabled schools too: a name once shown stays)."""
        if not ids:
            return {}
        s, t = self.tables.school, self.tables.partner
        rows = (await session.execute(
            select(s.c.school_id, s.c.name).where(s.c.school_id.in_(ids))
            .union_all(select(t.c.partner_id, t.c.name).where(t.c.partner_id.in_(ids)))
        )).all()
        return {i: name for i, name in rows}

    async def is_disabled(self, session: AsyncSession, person_id: uuid.UUID) -> bool:
        """True for a disabled account, and for one the directory does not know."""
        disabled = await self._value(session, self.tables.person.c.disabled, person_id)
        return disabled is not False

    async def is_guardian_of(self, session: AsyncSession, guardian_id: uuid.UUID, student_id: uuid.UUID) -> bool:
        stmt = select(self._guardian_clause(guardian_id, self.tables.person.c.person_id)).where(
            self.tables.person.c.person_id == student_id
        )
        return bool((await session.execute(stmt)).scalar_one_or_none())

    async def children_of(self, session: AsyncSession, guardian_id: uuid.UUID) -> list[uuid.UUID]:
        """The students `guardian_id` is the guardian of now, in id order."""
        p = self.tables.person
        stmt = select(p.c.person_id).where(self._guardian_clause(guardian_id, p.c.person_id)).order_by(p.c.person_id)
        return list((await session.execute(stmt)).scalars())

    async def consent_holds(
        self, session: AsyncSession, student_id: uuid.UUID, purpose: Purpose, partner_id: uuid.UUID | None = None
    ) -> bool:
        """May the student's data be processed for `purpose` (shared with `partner_id`)?

        The gateway's rules (shared/consent_rules.py) on the read model: sharing with a partner
        always needs a consent naming it; taking part needs one while the student is under 14
        or their age is unknown. A guardian's consent holds while it is in force (the gateway
        ends it when its guardian is unlinked, disabled or loses the role, and says so by an
        event); the student's own only from 14. An unknown student: no.
        """
        if purpose == "partner_sharing" and partner_id is None:
            raise ValueError("partner_sharing names the partner")
        person = await self.person(session, student_id)
        if person is None or "student" not in person.roles:
            return False
        c = self.tables.consent
        stmt = (
            select(c.c.guardian_id)
            .where(
                c.c.student_id == student_id,
                c.c.purpose == purpose,
                c.c.ended_at.is_(None),
                c.c.partner_id.is_(None) if partner_id is None else c.c.partner_id == partner_id,
            )
            # A guardian's consent first: it holds at any age.
            .order_by(c.c.guardian_id.is_(None), c.c.given_at.desc())
            .limit(1)
        )
        found = (await session.execute(stmt)).first()
        open_consent = None if found is None else OpenConsent(given_by_guardian=found.guardian_id is not None, guardian_in_office=True)
        of_age = None if person.under_14 is None else not person.under_14
        return decide_for(purpose, of_age=of_age, open_consent=open_consent).allowed

    async def status(self, db: Any) -> dict[str, Any]:
        """What the read model holds: loaded (a first load finished), when the last resync
        committed, and how many records (links and consents in force)."""
        t = self.tables

        async def count(table, *where) -> int:
            return (await db.execute(select(func.count()).select_from(table).where(*where))).scalar_one()

        synced = (await db.execute(select(t.sync.c.synced_at))).scalar_one_or_none()
        return {
            "loaded": synced is not None,
            "synced_at": synced,
            "people": await count(t.person),
            "schools": await count(t.school),
            "partners": await count(t.partner),
            "guardian_links": await count(t.guardian_link, t.guardian_link.c.linked.is_(True)),
            "consents": await count(t.consent, t.consent.c.ended_at.is_(None)),
        }

    # ------------------------------------------------------------ scoping

    def _guardian_clause(self, guardian_id: uuid.UUID, student: ColumnElement[Any]) -> ColumnElement[bool]:
        """`student` is a child of `guardian_id`, who holds the guardian role on an enabled account."""
        link, p = self.tables.guardian_link, self.tables.person
        guardian = p.alias("guardian")
        return exists().where(
            link.c.student_id == student,
            link.c.guardian_id == guardian_id,
            link.c.linked.is_(True),
            guardian.c.person_id == link.c.guardian_id,
            guardian.c.roles.any_() == "guardian",
            guardian.c.disabled.is_(False),
        )

    def visible(self, principal: Principal, student: ColumnElement[Any]) -> ColumnElement[bool]:
        """A WHERE clause: the caller may see rows of the student in column `student`.

        admin and staff: every student; a coordinator: the students of their school; a
        guardian: their children; a student: themself. Roles add up (a coordinator who is a
        guardian sees both sets); anyone else, and every machine client, sees none (a
        service reads for itself, not through this).
        """
        if principal.kind != "user":
            return false()
        if principal.has_role(*ALL_STUDENTS_ROLES):
            return true()
        me = as_uuid(principal.id)
        if me is None:
            return false()
        p = self.tables.person
        clauses: list[ColumnElement[bool]] = []
        if principal.has_role("coordinator"):
            coordinator = p.alias("coordinator")
            student_row = p.alias("scoped_student")
            # The coordinator's school as the read model knows it now, not as their token said.
            clauses.append(
                exists().where(
                    coordinator.c.person_id == me,
                    coordinator.c.roles.any_() == "coordinator",
                    coordinator.c.school_id.is_not(None),
                    student_row.c.person_id == student,
                    student_row.c.school_id == coordinator.c.school_id,
                )
            )
        if principal.has_role("guardian"):
            clauses.append(self._guardian_clause(me, student))
        if principal.has_role("student"):
            clauses.append(student == me)
        return or_(*clauses) if clauses else false()

    def visible_students(self, principal: Principal) -> ColumnElement[bool]:
        """`visible` on the directory's own people: the students the caller may see."""
        p = self.tables.person
        return and_(p.c.roles.any_() == "student", self.visible(principal, p.c.person_id))

    async def may_see(self, session: AsyncSession, principal: Principal, student_id: uuid.UUID) -> bool:
        p = self.tables.person
        stmt = select(p.c.person_id).where(p.c.person_id == student_id, self.visible_students(principal))
        return (await session.execute(stmt)).first() is not None

