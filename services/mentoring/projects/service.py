"""Research projects, their milestones and submissions, and their defenses.

Who sees what: a project is read by staff and admin, its mentor, its members, their guardians
and their school's coordinator (the directory's row scoping), and the judges of its defenses;
its milestones and submissions (the students' own writing) by all of those but the judges. A
defense is read by the project's readers and its judges; the note staff write with the
decision only by those who may see the students' records.

A milestone's due-date reminder is a timer (`mentoring.milestone.due`, available `LEAD` before
the due date, or at once when nearer), published with the milestone; moving the due date
publishes another, and the old one, carrying the due date it was set for, finds itself stale
(the way selection's stage deadlines work: the bus has no cancel).

Defense panels: 3 to 7 registered mentors who give research (lab) mentoring, each active, not
the project's own mentor, and in no conflict of interest with any member (shared/conflicts.py, as the matching runs check it).
Staff name them, or the service proposes them with shared/assignment.py: one seat of the panel
per subject with every open judge seat elsewhere fixed, so the flow's balance is over each
mentor's whole load of undecided defenses.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, delete, exists, false, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.mentoring.db import chain, conflicts, directory
from services.mentoring.mentors.service import OPEN
from services.mentoring.models import Mentor, MentorKind, Mentorship, NeedKind
from services.mentoring.projects.models import (
    Defense, DefenseResult, DefenseScore, Judge, Milestone, Project, ProjectMember, Review, Submission,
)
from services.mentoring.projects.schemas import DefenseIn, MilestoneChange, MilestoneIn, PanelIn, ProjectIn, SubmissionIn
from shared import clock
from shared.assignment import Assessor, AssignmentInfeasible, Subject, assign
from shared.chain import Change
from shared.db import upsert
from shared.events import publish
from shared.events.contracts.mentoring import SOURCE, DefenseCompleted, MilestoneDue
from shared.ids import as_uuid, first_repeated
from shared.problems import ProblemError
from shared.rubrics import Rubric, problem_errors
from shared.tokens import Principal

# How long before a milestone's due date its reminder goes out.
LEAD = timedelta(hours=72)
FOUR_PLACES = Decimal("0.0001")


def _me(principal: Principal, role: str) -> uuid.UUID | None:
    """The caller's id when they are a person with `role`."""
    return as_uuid(principal.id) if principal.kind == "user" and principal.has_role(role) else None


def insiders(principal: Principal) -> ColumnElement[bool]:
    """On `Project`: staff and admin, the mentor, the members, their guardians and coordinators."""
    clauses: list[Any] = [exists().where(ProjectMember.project_id == Project.id, directory.visible(principal, ProjectMember.student_id))]
    me = _me(principal, "mentor")
    if me is not None:
        clauses.append(Project.mentor_id == me)
    return or_(*clauses)


def _judge_of(principal: Principal, defense: Any) -> ColumnElement[bool]:
    me = _me(principal, "mentor")
    return exists().where(Judge.defense_id == defense, Judge.mentor_id == me) if me is not None else false()


def visible_projects(principal: Principal) -> ColumnElement[bool]:
    """The projects the caller may read: the insiders' and those of the defenses they judge."""
    judged = select(Defense.id).where(Defense.project_id == Project.id, _judge_of(principal, Defense.id)).exists()
    return or_(insiders(principal), judged)


def visible_defenses(principal: Principal) -> ColumnElement[bool]:
    """On `Defense`: its project's insiders, and its judges."""
    inside = select(Project.id).where(Project.id == Defense.project_id, insiders(principal)).exists()
    return or_(inside, _judge_of(principal, Defense.id))


async def insider_defenses(session: AsyncSession, principal: Principal, defense_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Of these defenses, those whose project the caller reads as an insider (not only as a judge)."""
    stmt = select(Defense.id).join(Project, Project.id == Defense.project_id).where(Defense.id.in_(list(defense_ids)), insiders(principal))
    return set((await session.execute(stmt)).scalars())


async def get_project(session: AsyncSession, principal: Principal, project_id: uuid.UUID) -> Project:
    found = (await session.execute(select(Project).where(Project.id == project_id, visible_projects(principal)))).scalar_one_or_none()
    if found is None:
        raise ProblemError("mentoring_project_not_found", project_id=project_id)
    return found


async def members_of(session: AsyncSession, project_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    out: dict[uuid.UUID, list[uuid.UUID]] = {p: [] for p in project_ids}
    stmt = select(ProjectMember.project_id, ProjectMember.student_id).where(ProjectMember.project_id.in_(list(project_ids)))
    for project_id, student_id in await session.execute(stmt.order_by(ProjectMember.project_id, ProjectMember.student_id)):
        out[project_id].append(student_id)
    return out


def _manages(principal: Principal, project: Project) -> bool:
    return principal.has_role("staff") or _me(principal, "mentor") == project.mentor_id


async def _managed(session: AsyncSession, principal: Principal, project_id: uuid.UUID) -> Project:
    """The project, if the caller is staff or its mentor; anyone else is told there is none."""
    project = await get_project(session, principal, project_id)
    if not _manages(principal, project):
        raise ProblemError("mentoring_project_not_found", project_id=project_id)
    return project


# ---------------------------------------------------------------- projects


async def create(session: AsyncSession, principal: Principal, data: ProjectIn) -> Project:
    """A project of a lab mentor (the caller, or any one for staff), its members their open lab mentees in the discipline."""
    mine = _me(principal, "mentor")
    mentor_id = data.mentor_id or (None if principal.has_role("staff") else mine)
    if mentor_id is None or not (principal.has_role("staff") or mentor_id == mine):
        raise ProblemError("mentoring_mentor_not_found", mentor_id=data.mentor_id or "none")
    if await session.get(Mentor, mentor_id) is None:
        raise ProblemError("mentoring_mentor_not_found", mentor_id=mentor_id)
    if (repeated := first_repeated(data.members)) is not None:
        raise ProblemError("mentoring_member_repeated", student_id=repeated)
    mentorships = dict((await session.execute(select(Mentorship.student_id, Mentorship.id).where(
        Mentorship.student_id.in_(data.members), Mentorship.mentor_id == mentor_id, Mentorship.kind == NeedKind.lab,
        Mentorship.discipline == data.discipline, Mentorship.status.in_(OPEN),
    ))).all())
    for student_id in data.members:
        if student_id not in mentorships:
            raise ProblemError("mentoring_member_not_mentee", student_id=student_id, mentor_id=mentor_id, discipline=data.discipline.value)
    project = Project(title=data.title, abstract=data.abstract, discipline=data.discipline, mentor_id=mentor_id,
                      created_by=principal.id, created_at=clock.now())
    session.add(project)
    await session.flush()
    rows = [dict(id=uuid.uuid4(), project_id=project.id, student_id=s, mentorship_id=mentorships[s]) for s in data.members]
    await session.execute(insert(ProjectMember).values(rows))
    await chain.append_many(session, [
        Change("project.created", principal.id, Project.__table__, project.id),
        *(Change("project.member_added", principal.id, ProjectMember.__table__, r["id"]) for r in rows),
    ])
    return project


# ---------------------------------------------------------------- milestones and submissions


def _check_due(due_at: Any) -> None:
    if due_at <= clock.now():
        raise ProblemError("mentoring_due_date_past", due_at=due_at.isoformat())


async def _remind(session: AsyncSession, project: Project, milestone: Milestone) -> None:
    """The milestone's due-date reminder: a timer, `LEAD` before the due date (at once when nearer)."""
    remind_at = max(clock.now(), milestone.due_at - LEAD)
    students = (await members_of(session, [project.id]))[project.id]
    await publish(session, type="mentoring.milestone.due", subject=milestone.id, source=SOURCE, available_at=remind_at,
                  payload=MilestoneDue(milestone_id=milestone.id, project_id=project.id, mentor_id=project.mentor_id,
                                       student_ids=students, due_at=milestone.due_at, remind_at=remind_at))


async def add_milestone(session: AsyncSession, principal: Principal, project_id: uuid.UUID, data: MilestoneIn) -> Milestone:
    project = await _managed(session, principal, project_id)
    _check_due(data.due_at)
    milestone = Milestone(project_id=project.id, title=data.title, description=data.description, due_at=data.due_at,
                          set_by=principal.id, set_at=clock.now())
    session.add(milestone)
    await session.flush()
    await chain.append(session, kind="milestone.set", table=Milestone.__table__, row_id=milestone.id, actor=principal.id)
    await _remind(session, project, milestone)
    return milestone


async def milestone_of(session: AsyncSession, principal: Principal, milestone_id: uuid.UUID, *, lock: bool = False) -> tuple[Milestone, Project]:
    """The milestone and its project, if the caller is one of the project's insiders."""
    stmt = select(Milestone, Project).join(Project, Project.id == Milestone.project_id).where(
        Milestone.id == milestone_id, insiders(principal))
    found = (await session.execute(stmt.with_for_update(of=Milestone) if lock else stmt)).one_or_none()
    if found is None:
        raise ProblemError("mentoring_milestone_not_found", milestone_id=milestone_id)
    return found[0], found[1]


async def change_milestone(session: AsyncSession, principal: Principal, milestone_id: uuid.UUID, data: MilestoneChange) -> Milestone:
    """A new title, description or due date; a new due date clears the reminder and sets another."""
    milestone, project = await milestone_of(session, principal, milestone_id, lock=True)
    if not _manages(principal, project):
        raise ProblemError("mentoring_milestone_not_found", milestone_id=milestone_id)
    moved = data.due_at is not None and data.due_at != milestone.due_at
    if moved:
        _check_due(data.due_at)
        milestone.due_at, milestone.reminded_at = data.due_at, None
    if data.title is not None:
        milestone.title = data.title
    if data.description is not None:
        milestone.description = data.description
    milestone.set_by, milestone.set_at = principal.id, clock.now()
    await session.flush()
    await chain.append(session, kind="milestone.moved" if moved else "milestone.changed", table=Milestone.__table__,
                       row_id=milestone.id, actor=principal.id)
    if moved:
        await _remind(session, project, milestone)
    return milestone


async def on_milestone_due(session: AsyncSession, event: Any) -> None:
    """The reminder timer: the milestone is marked reminded if it is still due at the timer's due
    date; a timer of a moved (or removed) due date does nothing. Safe to run twice."""
    timer: MilestoneDue = event.payload
    milestone = await session.get(Milestone, timer.milestone_id, with_for_update=True, populate_existing=True)
    if milestone is None or milestone.due_at != timer.due_at or milestone.reminded_at is not None:
        return
    milestone.reminded_at = clock.now()
    await session.flush()
    await chain.append(session, kind="milestone.reminded", table=Milestone.__table__, row_id=milestone.id, actor=SOURCE,
                       payload={"event_id": str(event.event_id)})


async def submit(session: AsyncSession, principal: Principal, milestone_id: uuid.UUID, data: SubmissionIn) -> Submission:
    """A member's work; late when after the due date. The milestone is locked so numbers follow one another."""
    milestone, project = await milestone_of(session, principal, milestone_id, lock=True)
    me = _me(principal, "student")
    if me is None or me not in (await members_of(session, [project.id]))[project.id]:
        raise ProblemError("mentoring_milestone_not_found", milestone_id=milestone_id)
    last = (await session.execute(select(func.max(Submission.number)).where(Submission.milestone_id == milestone_id))).scalar_one() or 0
    now = clock.now()
    row = Submission(milestone_id=milestone_id, number=last + 1, student_id=me, text=data.text, link=data.link,
                     late=now > milestone.due_at, submitted_at=now)
    session.add(row)
    await session.flush()
    await chain.append(session, kind="submission.made", table=Submission.__table__, row_id=row.id, actor=principal.id)
    return row


async def latest_numbers(session: AsyncSession, milestone_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    stmt = select(Submission.milestone_id, func.max(Submission.number)).where(Submission.milestone_id.in_(list(milestone_ids)))
    return dict((await session.execute(stmt.group_by(Submission.milestone_id))).all())


async def review(session: AsyncSession, principal: Principal, submission_id: uuid.UUID, verdict: Review, note: str | None) -> Submission:
    """The project's mentor reviews the milestone's latest submission (again to change the review)."""
    row = await session.get(Submission, submission_id)
    me = _me(principal, "mentor")
    project = None
    if row is not None:
        milestone = await session.get(Milestone, row.milestone_id, with_for_update=True)
        project = await session.get(Project, milestone.project_id)
    if row is None or project is None or project.mentor_id != me:
        raise ProblemError("mentoring_submission_not_found", submission_id=submission_id)
    latest = (await latest_numbers(session, [row.milestone_id]))[row.milestone_id]
    if row.number != latest:
        latest_id = (await session.execute(select(Submission.id).where(
            Submission.milestone_id == row.milestone_id, Submission.number == latest))).scalar_one()
        raise ProblemError("mentoring_submission_superseded", submission_id=submission_id, latest_id=latest_id)
    row.review, row.review_note, row.reviewed_by, row.reviewed_at = verdict, note, principal.id, clock.now()
    await session.flush()
    await chain.append(session, kind="submission.reviewed", table=Submission.__table__, row_id=row.id, actor=principal.id)
    return row


# ---------------------------------------------------------------- defenses


async def schedule(session: AsyncSession, principal: Principal, project_id: uuid.UUID, data: DefenseIn) -> Defense:
    """Staff schedule a project's defense: its time (in the future), place, rubric and pass mark."""
    await get_project(session, principal, project_id)
    # The project's row, locked: two schedules cannot both find no pending defense.
    await session.execute(select(Project.id).where(Project.id == project_id).with_for_update())
    if data.starts_at <= clock.now():
        raise ProblemError("mentoring_defense_time_past", starts_at=data.starts_at.isoformat())
    try:
        rubric = Rubric.model_validate(data.rubric.model_dump())
    except ValidationError as exc:
        raise ProblemError("mentoring_rubric_invalid", reason=exc.errors()[0]["msg"]) from None
    pending = (await session.execute(select(Defense.id).where(Defense.project_id == project_id, Defense.decided_at.is_(None)))).scalar()
    if pending is not None:
        raise ProblemError("mentoring_defense_pending", defense_id=pending)
    defense = Defense(project_id=project_id, starts_at=data.starts_at, place=data.place, rubric=rubric.model_dump(mode="json"),
                      pass_mark=Decimal(repr(data.pass_mark)).quantize(FOUR_PLACES), scheduled_by=principal.id, scheduled_at=clock.now())
    session.add(defense)
    await session.flush()
    await chain.append(session, kind="defense.scheduled", table=Defense.__table__, row_id=defense.id, actor=principal.id)
    return defense


async def get_defense(session: AsyncSession, principal: Principal, defense_id: uuid.UUID, *, lock: bool = False) -> Defense:
    stmt = select(Defense).where(Defense.id == defense_id, visible_defenses(principal))
    found = (await session.execute(stmt.with_for_update(of=Defense) if lock else stmt)).scalar_one_or_none()
    if found is None:
        raise ProblemError("mentoring_defense_not_found", defense_id=defense_id)
    return found


async def judges_of(session: AsyncSession, defense_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    out: dict[uuid.UUID, list[uuid.UUID]] = {d: [] for d in defense_ids}
    stmt = select(Judge.defense_id, Judge.mentor_id).where(Judge.defense_id.in_(list(defense_ids))).order_by(Judge.defense_id, Judge.mentor_id)
    for defense_id, mentor_id in await session.execute(stmt):
        out[defense_id].append(mentor_id)
    return out


def _refuse_decided(defense: Defense) -> None:
    if defense.decided_at is not None:
        raise ProblemError("mentoring_defense_decided", defense_id=defense.id, decided_at=defense.decided_at.isoformat())


def _conflict_words(found: dict, mentor_id: uuid.UUID, students: Sequence[uuid.UUID]) -> tuple[uuid.UUID, str] | None:
    """The first member the mentor is in conflict with, and the conflict's kinds in words."""
    for s in students:
        kinds = found.get((mentor_id, s))
        if kinds:
            return s, ", ".join(sorted({c.kind.value for c in kinds}))
    return None


async def _check_judges(session: AsyncSession, project: Project, students: list[uuid.UUID], judges: list[uuid.UUID]) -> None:
    if (repeated := first_repeated(judges)) is not None:
        raise ProblemError("mentoring_judge_repeated", mentor_id=repeated)
    mentors = {m.person_id: m for m in (await session.execute(select(Mentor).where(Mentor.person_id.in_(judges)))).scalars()}
    for j in judges:
        mentor = mentors.get(j)
        rule = ("not a registered mentor" if mentor is None else "paused" if not mentor.active
                else "gives life mentoring only" if mentor.kind is MentorKind.life
                else "the project's own mentor" if j == project.mentor_id else None)
        if rule:
            raise ProblemError("mentoring_judge_not_eligible", mentor_id=j, rule=rule)
    found = await conflicts.between(session, judges, students, affiliations={})
    for j in judges:
        conflict = _conflict_words(found, j, students)
        if conflict:
            raise ProblemError("mentoring_judge_conflicted", mentor_id=j, student_id=conflict[0], kinds=conflict[1])


async def propose(session: AsyncSession, defense: Defense, project: Project, students: list[uuid.UUID], size: int) -> list[uuid.UUID]:
    """`size` judges by one min-cost flow: each seat of this panel a subject, each mentor's seats on
    other undecided defenses fixed subjects of their own, so the loads balanced are the whole ones;
    never the project's mentor nor a conflicted mentor; then mixed types and the discipline."""
    mentors = list((await session.execute(select(Mentor).where(
        Mentor.active.is_(True), Mentor.kind != MentorKind.life, Mentor.person_id != project.mentor_id).order_by(Mentor.person_id))).scalars())
    held = list((await session.execute(select(Judge.mentor_id).join(Defense, Defense.id == Judge.defense_id).where(
        Defense.decided_at.is_(None), Defense.id != defense.id, Judge.mentor_id.in_([m.person_id for m in mentors]))
        .order_by(Judge.mentor_id))).scalars())
    load: dict[uuid.UUID, int] = {}
    for m in held:
        load[m] = load.get(m, 0) + 1
    found = await conflicts.between(session, [m.person_id for m in mentors], students, affiliations={})
    conflicted = {m.person_id for m in mentors if _conflict_words(found, m.person_id, students)}
    if len(mentors) - len(conflicted) < size:
        # Said in the programme's words: the flow's own refusal would count seats, not judges.
        raise ProblemError("mentoring_panel_infeasible", size=size, constraint="panel_size" if len(mentors) < size else "conflicts",
                           reason=f"{len(mentors)} research mentor(s) are active and not the project's own, "
                                  f"{len(mentors) - len(conflicted)} of them free of conflict with its members")
    seats = [Subject(f"seat-{i}", project.discipline.value) for i in range(size)]
    elsewhere = [Subject(f"held-{i}", "") for i in range(len(held))]
    pool = [Assessor(m.person_id, m.type.value, frozenset(m.disciplines), load.get(m.person_id, 0) + 1) for m in mentors]
    try:
        result = await asyncio.to_thread(
            assign, [*seats, *elsewhere], pool, 1, [(s.id, m) for s in seats for m in conflicted],
            {f"held-{i}": [m] for i, m in enumerate(held)})
    except AssignmentInfeasible as exc:
        raise ProblemError("mentoring_panel_infeasible", size=size, constraint=exc.constraint, reason=exc.message) from None
    return sorted(result.panels[s.id][0] for s in seats)


async def set_panel(session: AsyncSession, principal: Principal, defense_id: uuid.UUID, data: PanelIn) -> Defense:
    """Staff name the panel, or have one proposed; it replaces the last, until a judge has scored."""
    if (data.judges is None) == (data.size is None):
        raise ProblemError("mentoring_panel_one_way")
    defense = await get_defense(session, principal, defense_id, lock=True)
    _refuse_decided(defense)
    if (await session.execute(select(DefenseScore.id).where(DefenseScore.defense_id == defense_id).limit(1))).first():
        raise ProblemError("mentoring_defense_scoring_began", defense_id=defense_id)
    project = await session.get(Project, defense.project_id)
    students = (await members_of(session, [project.id]))[project.id]
    if data.judges is not None:
        await _check_judges(session, project, students, data.judges)
        judges = list(data.judges)
    else:
        judges = await propose(session, defense, project, students, data.size)
    earlier = list((await session.execute(delete(Judge).where(Judge.defense_id == defense_id).returning(Judge.id))).scalars())
    now = clock.now()
    rows = [dict(id=uuid.uuid4(), defense_id=defense_id, mentor_id=j, assigned_by=principal.id, assigned_at=now) for j in judges]
    await session.execute(insert(Judge).values(rows))
    await chain.append_many(session, [
        *(Change("judge.unassigned", principal.id, Judge.__table__, i) for i in earlier),
        *(Change("judge.assigned", principal.id, Judge.__table__, r["id"], {"proposed": data.judges is None}) for r in rows),
    ])
    return defense


async def _as_judge(session: AsyncSession, principal: Principal, defense_id: uuid.UUID) -> tuple[Defense, uuid.UUID]:
    """The defense, locked for reading, if the caller sits on its panel."""
    me = _me(principal, "mentor")
    stmt = select(Defense).join(Judge, Judge.defense_id == Defense.id).where(Defense.id == defense_id, Judge.mentor_id == me)
    defense = (await session.execute(stmt.with_for_update(of=Defense, read=True))).scalar_one_or_none() if me else None
    if defense is None:
        raise ProblemError("mentoring_not_a_judge", defense_id=defense_id)
    return defense, me


async def score(session: AsyncSession, principal: Principal, defense_id: uuid.UUID, scores: dict[str, Any]) -> DefenseScore:
    """A judge's scores on the rubric (every problem at once), from the defense's start; again to
    change them, until the decision."""
    defense, me = await _as_judge(session, principal, defense_id)
    _refuse_decided(defense)
    if clock.now() < defense.starts_at:
        raise ProblemError("mentoring_defense_not_started", defense_id=defense_id, starts_at=defense.starts_at.isoformat())
    students = (await members_of(session, [defense.project_id]))[defense.project_id]
    # A conflict declared after the panel was named: the judge stands aside.
    conflict = _conflict_words(await conflicts.between(session, [me], students, affiliations={}), me, students)
    if conflict:
        raise ProblemError("mentoring_judge_conflicted", mentor_id=me, student_id=conflict[0], kinds=conflict[1])
    rubric = Rubric.model_validate(defense.rubric)
    errors = rubric.check(scores)
    if errors:
        raise ProblemError("mentoring_defense_scores_invalid", count=len(errors), errors=problem_errors(errors))
    values = dict(id=uuid.uuid4(), defense_id=defense_id, mentor_id=me, scores=scores,
                  total=Decimal(repr(rubric.total(scores))).quantize(FOUR_PLACES), submitted_at=clock.now())
    row = await upsert(session, DefenseScore, values, key=[DefenseScore.defense_id, DefenseScore.mentor_id],
                       update=["scores", "total", "submitted_at"])
    await chain.append(session, kind="defense.scored", table=DefenseScore.__table__, row_id=row.id, actor=principal.id)
    return row


async def scores_of(session: AsyncSession, principal: Principal, defense_id: uuid.UUID) -> list[DefenseScore]:
    """Staff every score; a judge their own until the decision, every one after it."""
    stmt = select(DefenseScore).where(DefenseScore.defense_id == defense_id).order_by(DefenseScore.mentor_id)
    if principal.has_role("admin", "staff"):
        await get_defense(session, principal, defense_id)
    else:
        defense, me = await _as_judge(session, principal, defense_id)
        if defense.decided_at is None:
            stmt = stmt.where(DefenseScore.mentor_id == me)
    return list((await session.execute(stmt)).scalars())


async def decide(session: AsyncSession, principal: Principal, defense_id: uuid.UUID, note: str | None) -> Defense:
    """Once every judge has scored: the mean of their totals against the pass mark, announced as
    `mentoring.defense.completed` in the same transaction. Deciding again is refused."""
    defense = await get_defense(session, principal, defense_id, lock=True)
    _refuse_decided(defense)
    judges = (await judges_of(session, [defense_id]))[defense_id]
    if not judges:
        raise ProblemError("mentoring_panel_missing", defense_id=defense_id)
    totals = [t for (t,) in await session.execute(select(DefenseScore.total).where(
        DefenseScore.defense_id == defense_id, DefenseScore.mentor_id.in_(judges)))]
    if len(totals) < len(judges):
        raise ProblemError("mentoring_defense_scores_missing", scored=len(totals), judges=len(judges))
    mean = (sum(totals) / len(totals)).quantize(FOUR_PLACES)
    defense.result = DefenseResult.passed if mean >= defense.pass_mark else DefenseResult.failed
    defense.score, defense.note, defense.decided_by, defense.decided_at = mean, note, principal.id, clock.now()
    await session.flush()
    await chain.append(session, kind="defense.decided", table=Defense.__table__, row_id=defense.id, actor=principal.id,
                       payload={"totals": [str(t) for t in totals]})
    project = await session.get(Project, defense.project_id)
    students = (await members_of(session, [project.id]))[project.id]
    await publish(session, type="mentoring.defense.completed", subject=project.id, source=SOURCE, payload=DefenseCompleted(
        project_id=project.id, defense_id=defense.id, student_ids=students, discipline=project.discipline.value,
        result=defense.result.value, score=float(mean), decided_at=defense.decided_at))
    return defense


