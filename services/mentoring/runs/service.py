"""A round's runs: compute a draft, force or ban pairs around it, publish it once.

A run takes the round's pool as it stands: the cohort's open needs of the round's kind that no
open mentorship meets, in the round's default order; and every mentor giving that kind, with
the places left (capacity less the open mentorships of that kind).

- A lab run is the student-optimal stable matching (services/mentoring/stable.py): each
  student's list from their preferences; each mentor's from their ranking, else every
  applicant in the default order. A pair is never matched when the mentor is no longer
  eligible (paused, the discipline dropped, no lab places), when the two are in conflict (the
  shared rules, checked again now), when an approved re-match request parted them, or when
  staff banned it; forced pairs are placed first and
  the rest matched stably around them, and the run lists every blocking pair that leaves.
- A life run is shared/assignment.py with one mentor per student: loads as even as the places
  allow, never a conflicted, parted or banned pair, forced pairs kept. When there are fewer places
  than students, the students first in the default order are placed.

Only after the round's window has closed; each new run supersedes the round's draft. Staff
publish a draft: each pair becomes an active mentorship and goes out as
`mentoring.mentor.assigned`, all in one transaction; a round is published once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.mentoring.db import chain, conflicts, directory
from services.mentoring.mentors.service import OPEN, mentees
from services.mentoring.mentorships.service import REMATCH_RULE, rematched_pairs
from services.mentoring.models import DefaultOrder, Mentor, MentorKind, MentorRanking, Mentorship, MentorshipStatus, Need, NeedKind, Preference, Round
from services.mentoring.rounds.service import lab_ineligible, locked_round, refuse_published
from services.mentoring.runs.models import Decision, Override, OverrideAction, Run, RunEntry, RunStatus
from services.mentoring.stable import Game, blocking_pairs, deferred_acceptance, passed_over
from shared import clock
from shared.assignment import Assessor, AssignmentInfeasible, Subject, assign
from shared.chain import Change
from shared.events.bus import Outgoing, publish_many
from shared.events.contracts.mentoring import SOURCE, MentorAssigned
from shared.ids import as_uuid, first_repeated
from shared.problems import ProblemError
from shared.tokens import Principal


def default_key(order: DefaultOrder) -> Callable[[Need], tuple]:
    """The round's default order of needs: by admission rank (unranked last), by grade (oldest
    first), or first admitted; ties by admission time, then id."""
    if order is DefaultOrder.selection_rank:
        return lambda n: (n.selection_rank is None, n.selection_rank or 0, n.opened_at, str(n.id))
    if order is DefaultOrder.grade:
        return lambda n: (-n.grade, n.opened_at, str(n.id))
    return lambda n: (n.opened_at, str(n.id))


async def pool(session: AsyncSession, found: Round) -> list[Need]:
    """The needs a run of this round places, in its default order."""
    met = exists().where(Mentorship.need_id == Need.id, Mentorship.status.in_(OPEN))
    stmt = select(Need).where(Need.kind == found.kind, Need.cohort_year == found.cohort_year, Need.closed_at.is_(None), ~met)
    return sorted((await session.execute(stmt)).scalars(), key=default_key(found.default_order))


async def mentors_with_room(session: AsyncSession, kind: NeedKind) -> dict[uuid.UUID, tuple[Mentor, int]]:
    """Every mentor giving `kind`, with their places left (0 for a paused mentor)."""
    found = list((await session.execute(select(Mentor).where(Mentor.kind.in_([MentorKind(kind.value), MentorKind.both])))).scalars())
    held = await mentees(session, [m.person_id for m in found])
    out = {}
    for m in found:
        capacity = m.lab_capacity if kind is NeedKind.lab else m.life_capacity
        out[m.person_id] = (m, max(0, capacity - held.get((m.person_id, kind), 0)) if m.active else 0)
    return out


def life_ineligible(mentor: Mentor | None) -> str | None:
    """Why this mentor cannot be a life mentor, in words; None when they can."""
    if mentor is None:
        return "not a registered mentor"
    if not mentor.active:
        return "paused"
    if mentor.kind is MentorKind.lab:
        return "gives lab mentoring only"
    if mentor.life_capacity == 0:
        return "has no life places"
    return None


def ineligible(found: Round, mentor: Mentor | None, need: Need) -> str | None:
    return lab_ineligible(mentor, need.discipline.value) if found.kind is NeedKind.lab else life_ineligible(mentor)


@dataclass
class Computed:
    """A run's result before it is stored."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    given_up: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


async def _overrides(session: AsyncSession, round_id: uuid.UUID) -> list[Override]:
    return list((await session.execute(select(Override).where(Override.round_id == round_id).order_by(Override.decided_at))).scalars())


async def _conflicted(session: AsyncSession, pairs: Sequence[tuple[uuid.UUID, Need]]) -> dict[tuple[uuid.UUID, uuid.UUID], str]:
    """(mentor, need) -> the conflict's kinds in words, for the pairs in conflict now."""
    found = await conflicts.between(session, [m for m, _ in pairs], [n.student_id for _, n in pairs], affiliations={})
    out = {}
    for m, n in pairs:
        kinds = found.get((m, n.student_id))
        if kinds:
            out[(m, n.id)] = "a conflict of interest: " + ", ".join(sorted({c.kind.value for c in kinds}))
    return out


async def _excluded(session: AsyncSession, pairs: Sequence[tuple[uuid.UUID, Need]]) -> dict[tuple[uuid.UUID, uuid.UUID], str]:
    """`_conflicted`, and the pairs an approved re-match request parted: never matched, nor forced, again."""
    out = await _conflicted(session, pairs)
    parted = await rematched_pairs(session, list({n.student_id for _, n in pairs}))
    for m, n in pairs:
        if (m, n.student_id) in parted:
            out[(m, n.id)] = REMATCH_RULE
    return out


def _check_forced(found: Round, forced: dict[uuid.UUID, Override], needs: dict[uuid.UUID, Need],
                  room: dict[uuid.UUID, tuple[Mentor, int]], conflicted: dict) -> None:
    """Every forced pair still possible: the need in the pool, the mentor eligible and unconflicted, within their places."""
    taken: dict[uuid.UUID, int] = {}
    for need_id, o in forced.items():
        if need_id not in needs:
            raise ProblemError("mentoring_force_invalid", need_id=need_id, mentor_id=o.mentor_id,
                               rule="the need is no longer waiting for a mentor (met, or the student left)")
        mentor = room.get(o.mentor_id, (None, 0))[0]
        rule = ineligible(found, mentor, needs[need_id]) or conflicted.get((o.mentor_id, need_id))
        if rule:
            raise ProblemError("mentoring_force_invalid", need_id=need_id, mentor_id=o.mentor_id, rule=rule)
        taken[o.mentor_id] = taken.get(o.mentor_id, 0) + 1
    for mentor_id, n in taken.items():
        if n > room[mentor_id][1]:
            raise ProblemError("mentoring_force_over_capacity", mentor_id=mentor_id, forced=n, places=room[mentor_id][1])


async def _lab(session: AsyncSession, found: Round, needs: list[Need], room: dict[uuid.UUID, tuple[Mentor, int]],
               overrides: list[Override]) -> Computed:
    by_id = {n.id: n for n in needs}
    lists: dict[uuid.UUID, list[uuid.UUID]] = {n.id: [] for n in needs}
    for p in (await session.execute(select(Preference).where(Preference.round_id == found.id, Preference.need_id.in_(list(by_id)))
                                    .order_by(Preference.need_id, Preference.rank))).scalars():
        lists[p.need_id].append(p.mentor_id)
    rankings: dict[uuid.UUID, list[uuid.UUID]] = {}
    for r in (await session.execute(select(MentorRanking).where(MentorRanking.round_id == found.id)
                                    .order_by(MentorRanking.mentor_id, MentorRanking.rank))).scalars():
        rankings.setdefault(r.mentor_id, []).append(r.need_id)
    applicants: dict[uuid.UUID, list[uuid.UUID]] = {m: [] for m in room}
    for n in needs:  # the default order
        for m in lists[n.id]:
            applicants.setdefault(m, []).append(n.id)
    mentor_lists = {}
    for m, them in applicants.items():
        listed = set(them)
        mentor_lists[m] = [n for n in rankings[m] if n in listed] if m in rankings else them
    forced = {o.need_id: o for o in overrides if o.action is OverrideAction.force}
    pairs = {(m, n) for n, ms in lists.items() for m in ms} | {(o.mentor_id, o.need_id) for o in forced.values()}
    why: dict[tuple[uuid.UUID, uuid.UUID], str] = {}
    for m, n in pairs:
        rule = ineligible(found, room.get(m, (None, 0))[0], by_id[n]) if n in by_id else None
        if rule:
            why[(m, n)] = f"the mentor {rule}"
    conflicted = await _excluded(session, [(m, by_id[n]) for m, n in pairs if n in by_id])
    _check_forced(found, forced, by_id, room, conflicted)
    why.update(conflicted)
    for o in overrides:
        if o.action is OverrideAction.ban:
            why[(o.mentor_id, o.need_id)] = f"banned by staff: {o.reason}"
    for o in forced.values():
        mentor_lists.setdefault(o.mentor_id, [])
    game = Game(lists, mentor_lists, {m: r for m, (_, r) in room.items()},
                banned=frozenset((n, m) for m, n in why), forced={n: o.mentor_id for n, o in forced.items()})
    matching = deferred_acceptance(game)
    ranks = game.ranks()
    held: dict[uuid.UUID, list[uuid.UUID]] = {}
    for n, m in matching.items():
        held.setdefault(m, []).append(n)

    def plus(i: int | None) -> int | None:
        return None if i is None else i + 1

    out = Computed()
    for n in needs:
        m = matching.get(n.id)
        mine = lists[n.id]
        student_rank = mine.index(m) + 1 if m in mine else None
        mentor_rank = plus(ranks.get(m, {}).get(n.id)) if m else None
        passed = [{
            "mentor_id": str(p.mentor), "student_rank": p.student_rank + 1, "reason": p.reason,
            **({"rule": why[(p.mentor, n.id)]} if p.reason == "banned" else {}),
            "mentor_rank": plus(p.mentor_rank), "last_taken_rank": plus(p.last_taken_rank),
        } for p in passed_over(game, matching, n.id, ranks, held)]
        if n.id in forced:
            decision, words = Decision.forced, f"forced by staff: {forced[n.id].reason}"
        elif m is not None:
            decision = Decision.stable
            words = ("the student's first choice" if student_rank == 1 else
                     "the best the student could have: each mentor they ranked higher was full with students that mentor ranks higher"
                     if all(p["reason"] == "full" for p in passed) else
                     "the best the student could have: each mentor they ranked higher was full or could not take them (see passed)")
        elif not mine:
            decision, words = Decision.unmatched, "the student ranked no mentor in this round"
        else:
            decision = Decision.unmatched
            words = "no mentor they ranked could take them: each was full with students that mentor ranks higher, or could not take them (see passed)"
        out.entries.append(dict(need_id=n.id, student_id=n.student_id, mentor_id=m, decision=decision, student_rank=student_rank,
                                mentor_rank=mentor_rank, explanation={"decided_by": words, "passed": passed}))
    for b in blocking_pairs(game, matching):
        out.given_up.append({"need_id": str(b.student), "student_id": str(by_id[b.student].student_id), "mentor_id": str(b.mentor),
                             "student_rank": b.student_rank + 1, "mentor_rank": b.mentor_rank + 1, "forced": b.forced})
    out.figures = {"pool": len(needs), "places": sum(r for _, r in room.values())}
    return out


async def _life(session: AsyncSession, found: Round, needs: list[Need], room: dict[uuid.UUID, tuple[Mentor, int]],
                overrides: list[Override]) -> Computed:
    by_id = {n.id: n for n in needs}
    open_mentors = {m: r for m, (mentor, r) in room.items() if r > 0}
    forced = {o.need_id: o for o in overrides if o.action is OverrideAction.force}
    conflicted = await _excluded(session, [(m, n) for m in open_mentors for n in needs])
    _check_forced(found, forced, by_id, room, conflicted)
    banned = set(conflicted) | {(o.mentor_id, o.need_id) for o in overrides if o.action is OverrideAction.ban}
    left: dict[uuid.UUID, str] = {}
    places = sum(open_mentors.values())
    chosen = [n for n in needs if n.id in forced] + [n for n in needs if n.id not in forced]
    for n in chosen[places:]:
        left[n.id] = f"no life mentor's place left: {places} places, taken by the students before them in the round's default order"
    chosen = chosen[:places]
    assessors = [Assessor(m, room[m][0].type.value, frozenset(), r) for m, r in open_mentors.items()]
    result = None
    while chosen:
        try:
            result = assign([Subject(n.id, "") for n in chosen], assessors, 1, [(n, m) for m, n in banned if n in by_id],
                            {n: [o.mentor_id] for n, o in forced.items()})
            break
        except AssignmentInfeasible as refusal:
            named = set(refusal.subjects) - set(forced)
            if refusal.constraint == "conflicts" and named:
                for n in named:
                    left[n] = "every life mentor with a place left is in conflict with the student or banned for them"
                chosen = [n for n in chosen if n.id not in named]
            else:  # the places the students open to them could have ran out: the last in the default order waits
                last = next(n for n in reversed(chosen) if n.id not in forced)
                left[last.id] = "no life mentor's place left that the student may have, after the students before them in the default order"
                chosen = [n for n in chosen if n.id != last.id]
    panels = result.panels if result else {}
    loads = result.loads if result else {}
    out = Computed()
    for n in needs:
        m = panels[n.id][0] if n.id in panels else None
        if n.id in forced:
            decision, words = Decision.forced, f"forced by staff: {forced[n.id].reason}"
        elif m is not None:
            decision, words = Decision.balanced, f"the load-balanced assignment: the mentor has {loads[m]} student(s) from this run"
        else:
            decision, words = Decision.unmatched, left.get(n.id, "no life mentor has a place left")
        out.entries.append(dict(need_id=n.id, student_id=n.student_id, mentor_id=m, decision=decision, student_rank=None,
                                mentor_rank=None, explanation={"decided_by": words, "passed": []}))
    out.figures = {"pool": len(needs), "places": places, "spread": result.spread if result else 0,
                   "loads": {str(m): v for m, v in loads.items()}}
    return out


async def draft(session: AsyncSession, principal: Principal, round_id: uuid.UUID) -> Run:
    """Compute the round's run as things stand and make it the round's draft."""
    found = await locked_round(session, round_id)
    await refuse_published(session, round_id)
    if clock.now() < found.closes_at:
        raise ProblemError("mentoring_window_open", closes_at=found.closes_at.isoformat())
    needs = await pool(session, found)
    room = await mentors_with_room(session, found.kind)
    overrides = await _overrides(session, round_id)
    computed = await (_lab if found.kind is NeedKind.lab else _life)(session, found, needs, room, overrides)
    last = (await session.execute(select(func.max(Run.number)).where(Run.round_id == round_id))).scalar_one() or 0
    superseded = list((await session.execute(
        update(Run).where(Run.round_id == round_id, Run.status == RunStatus.draft).values(status=RunStatus.superseded).returning(Run.id)
    )).scalars())
    matched = sum(e["mentor_id"] is not None for e in computed.entries)
    run = Run(round_id=round_id, number=last + 1, status=RunStatus.draft, matched=matched, unmatched=len(computed.entries) - matched,
              given_up=computed.given_up, figures=computed.figures, computed_by=principal.id, computed_at=clock.now())
    session.add(run)
    await session.flush()
    if computed.entries:
        await session.execute(insert(RunEntry).values([{"id": uuid.uuid4(), "run_id": run.id, **e} for e in computed.entries]))
    await chain.append_many(session, [
        *(Change("run.superseded", principal.id, Run.__table__, i) for i in superseded),
        Change("run.drafted", principal.id, Run.__table__, run.id),
    ])
    return run


async def get_run(session: AsyncSession, round_id: uuid.UUID, run_id: uuid.UUID) -> Run:
    run = (await session.execute(select(Run).where(Run.id == run_id, Run.round_id == round_id))).scalar_one_or_none()
    if run is None:
        raise ProblemError("mentoring_run_not_found", run_id=run_id)
    return run


async def publish(session: AsyncSession, principal: Principal, round_id: uuid.UUID, run_id: uuid.UUID) -> Run:
    """The draft's pairs become active mentorships, each announced; refused when anything they rest on has changed."""
    found = await locked_round(session, round_id)
    run = await get_run(session, round_id, run_id)
    if run.status is RunStatus.published:
        raise ProblemError("mentoring_run_published", run_id=run_id, published_at=run.published_at.isoformat())
    await refuse_published(session, round_id)
    if run.status is RunStatus.superseded:
        current = (await session.execute(select(Run.id).where(Run.round_id == round_id, Run.status == RunStatus.draft))).scalar_one_or_none()
        raise ProblemError("mentoring_run_superseded", run_id=run_id, draft_id=current)
    entries = list((await session.execute(select(RunEntry).where(RunEntry.run_id == run_id, RunEntry.mentor_id.is_not(None)))).scalars())
    waiting = {n.id for n in await pool(session, found)}
    room = await mentors_with_room(session, found.kind)
    wanted: dict[uuid.UUID, int] = {}
    for e in entries:
        wanted[e.mentor_id] = wanted.get(e.mentor_id, 0) + 1
    stale = sorted({str(e.need_id) for e in entries if e.need_id not in waiting})
    full = sorted(str(m) for m, n in wanted.items() if n > room.get(m, (None, 0))[1])
    if stale or full:
        raise ProblemError("mentoring_run_stale", run_id=run_id, needs=", ".join(stale) or "none", mentors=", ".join(full) or "none")
    now = clock.now()
    needs = {n.id: n for n in (await session.execute(select(Need).where(Need.id.in_([e.need_id for e in entries])))).scalars()}
    rows = [dict(id=uuid.uuid4(), need_id=e.need_id, student_id=e.student_id, mentor_id=e.mentor_id, kind=found.kind,
                 discipline=needs[e.need_id].discipline, status=MentorshipStatus.active, started_at=now) for e in entries]
    if rows:
        await session.execute(insert(Mentorship).values(rows))
    run.status, run.published_by, run.published_at = RunStatus.published, principal.id, now
    await session.flush()
    await chain.append_many(session, [
        *(Change("mentorship.started", principal.id, Mentorship.__table__, r["id"], {"run_id": str(run_id)}) for r in rows),
        Change("run.published", principal.id, Run.__table__, run.id),
    ])
    await publish_many(session, (Outgoing(type="mentoring.mentor.assigned", subject=r["student_id"], payload=MentorAssigned(
        mentorship_id=r["id"], student_id=r["student_id"], mentor_id=r["mentor_id"], kind=found.kind.value,
        discipline=r["discipline"].value if r["discipline"] else None, round_id=round_id, run_id=run_id, started_at=now,
    )) for r in rows), source=SOURCE)
    return run


async def set_override(session: AsyncSession, principal: Principal, round_id: uuid.UUID, need_id: uuid.UUID, mentor_id: uuid.UUID,
                       action: OverrideAction, reason: str) -> Run:
    """Force or ban a pair (a new force for a need replaces its last), then draft the run again around it."""
    found = await locked_round(session, round_id)
    await refuse_published(session, round_id)
    need = (await session.execute(select(Need).where(Need.id == need_id))).scalar_one_or_none()
    waiting = {n.id for n in await pool(session, found)}
    if need is None or need_id not in waiting:
        raise ProblemError("mentoring_need_not_found", need_id=need_id)
    mentor = await session.get(Mentor, mentor_id)
    if mentor is None:
        raise ProblemError("mentoring_mentor_not_found", mentor_id=mentor_id)
    if action is OverrideAction.force:
        rule = ineligible(found, mentor, need)
        if rule:
            raise ProblemError("mentoring_mentor_not_eligible", mentor_id=mentor_id, rule=rule)
        kinds = (await _conflicted(session, [(mentor_id, need)])).get((mentor_id, need_id))
        if kinds:
            raise ProblemError("mentoring_mentor_conflicted", mentor_id=mentor_id, kinds=kinds.removeprefix("a conflict of interest: "))
        others = (await session.execute(select(func.count()).select_from(Override).where(
            Override.round_id == round_id, Override.mentor_id == mentor_id, Override.action == OverrideAction.force,
            Override.need_id != need_id))).scalar_one()
        places = (await mentors_with_room(session, found.kind))[mentor_id][1]
        if others + 1 > places:
            raise ProblemError("mentoring_force_over_capacity", mentor_id=mentor_id, forced=others + 1, places=places)
        replaced = list((await session.execute(select(Override).where(
            Override.round_id == round_id, Override.need_id == need_id,
            or_(Override.action == OverrideAction.force, Override.mentor_id == mentor_id)))).scalars())
    else:
        replaced = list((await session.execute(select(Override).where(
            Override.round_id == round_id, Override.need_id == need_id, Override.mentor_id == mentor_id))).scalars())
    changes = []
    for old in replaced:
        changes.append(Change("override.removed", principal.id, Override.__table__, old.id))
        await session.delete(old)
    await session.flush()
    row = Override(round_id=round_id, need_id=need_id, mentor_id=mentor_id, action=action, reason=reason,
                   decided_by=principal.id, decided_at=clock.now())
    session.add(row)
    await session.flush()
    await chain.append_many(session, [*changes, Change(f"override.{action.value}", principal.id, Override.__table__, row.id)])
    return await draft(session, principal, round_id)


async def remove_override(session: AsyncSession, principal: Principal, round_id: uuid.UUID, need_id: uuid.UUID,
                          mentor_id: uuid.UUID) -> Run:
    await locked_round(session, round_id)
    await refuse_published(session, round_id)
    row = (await session.execute(select(Override).where(
        Override.round_id == round_id, Override.need_id == need_id, Override.mentor_id == mentor_id))).scalar_one_or_none()
    if row is None:
        raise ProblemError("mentoring_override_not_found", need_id=need_id, mentor_id=mentor_id)
    await session.delete(row)
    await session.flush()
    await chain.append(session, kind="override.removed", table=Override.__table__, row_id=row.id, actor=principal.id)
    return await draft(session, principal, round_id)


def visible_entries(principal: Principal) -> ColumnElement[bool]:
    """Of a published run: staff every entry; a student their own, a guardian their children's, a
    coordinator their school's (the directory's row scoping); a mentor the pairs naming them."""
    clauses: list[Any] = [directory.visible(principal, RunEntry.student_id)]
    me = as_uuid(principal.id)
    if principal.kind == "user" and principal.has_role("mentor") and me is not None:
        clauses.append(RunEntry.mentor_id == me)
    return or_(*clauses)


async def set_ranking(session: AsyncSession, principal: Principal, round_id: uuid.UUID, mentor_id: uuid.UUID,
                      need_ids: list[uuid.UUID]) -> Round:
    """A mentor's order of their applicants, replacing the last; an empty list withdraws it (the
    round's default order then serves). Each need must have listed the mentor in this round.
    Until the round's run is published."""
    found = await locked_round(session, round_id)
    if found.kind is not NeedKind.lab:
        raise ProblemError("mentoring_round_takes_no_preferences")
    if not (principal.has_role("staff") or as_uuid(principal.id) == mentor_id):
        raise ProblemError("mentoring_mentor_not_found", mentor_id=mentor_id)
    if await session.get(Mentor, mentor_id) is None:
        raise ProblemError("mentoring_mentor_not_found", mentor_id=mentor_id)
    await refuse_published(session, round_id)
    if (repeated := first_repeated(need_ids)) is not None:
        raise ProblemError("mentoring_applicant_repeated", need_id=repeated)
    listed = set((await session.execute(select(Preference.need_id).where(
        Preference.round_id == round_id, Preference.mentor_id == mentor_id, Preference.need_id.in_(need_ids)))).scalars())
    for need_id in need_ids:
        if need_id not in listed:
            raise ProblemError("mentoring_applicant_unknown", need_id=need_id, mentor_id=mentor_id)
    await session.execute(delete(MentorRanking).where(MentorRanking.round_id == round_id, MentorRanking.mentor_id == mentor_id))
    if need_ids:
        now = clock.now()
        await session.execute(insert(MentorRanking).values([
            dict(id=uuid.uuid4(), round_id=round_id, mentor_id=mentor_id, need_id=n, rank=i, entered_by=principal.id, entered_at=now)
            for i, n in enumerate(need_ids, start=1)
        ]))
    return found


async def ranking_of(session: AsyncSession, round_id: uuid.UUID, mentor_id: uuid.UUID) -> list[MentorRanking]:
    stmt = select(MentorRanking).where(MentorRanking.round_id == round_id, MentorRanking.mentor_id == mentor_id).order_by(MentorRanking.rank)
    return list((await session.execute(stmt)).scalars())
