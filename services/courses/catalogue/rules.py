"""The catalogue's rules as plain functions: prerequisite cycles, a term's blocks, meetings within them, weekly patterns.

No I/O here: the service loads the rows and asks; the tests ask with plain values.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol

from services.courses.models import BlockKind
from shared.clock import CHINA

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKEND = (5, 6)  # date.weekday() of Saturday and Sunday


class Span(Protocol):
    """A term's block as the rules read it (a `TermBlock` row or a block of a request)."""

    kind: BlockKind
    starts_on: date
    ends_on: date


@dataclass(frozen=True)
class Meeting:
    starts_at: datetime
    ends_at: datetime


# ---------------------------------------------------------------- prerequisites


def prerequisite_cycle(graph: Mapping[uuid.UUID, Sequence[uuid.UUID]], course_id: uuid.UUID) -> list[uuid.UUID] | None:
    """The circle through `course_id` in `graph` (course -> its prerequisites), as the path
    course_id, ..., course_id; None when there is none."""
    path: list[uuid.UUID] = [course_id]
    seen: set[uuid.UUID] = set()

    def walk(node: uuid.UUID) -> bool:
        for nxt in graph.get(node, ()):
            if nxt == course_id:
                path.append(nxt)
                return True
            if nxt in seen:
                continue
            seen.add(nxt)
            path.append(nxt)
            if walk(nxt):
                return True
            path.pop()
        return False

    return path if walk(course_id) else None


def unique_in_order(ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """`ids` with repeats dropped, first mention kept."""
    return list(dict.fromkeys(ids))


# ---------------------------------------------------------------- blocks


def blocks_problem(starts_on: date, ends_on: date, blocks: Sequence[Span]) -> str | None:
    """Why a term's dates and blocks do not hold, or None: the term ends on or after it starts,
    each block ends on or after it starts, lies within the term, and no two blocks overlap."""
    if ends_on < starts_on:
        return f"it ends ({ends_on.isoformat()}) before it starts ({starts_on.isoformat()})"
    ordered = sorted(blocks, key=lambda b: (b.starts_on, b.ends_on))
    for b in ordered:
        if b.ends_on < b.starts_on:
            return f"a {b.kind.value} block ends ({b.ends_on.isoformat()}) before it starts ({b.starts_on.isoformat()})"
        if b.starts_on < starts_on or b.ends_on > ends_on:
            return (f"the {b.kind.value} block {b.starts_on.isoformat()} to {b.ends_on.isoformat()} is not within the term "
                    f"({starts_on.isoformat()} to {ends_on.isoformat()})")
        if b.kind is BlockKind.weekends and not any(_days(b.starts_on, b.ends_on, weekend_only=True)):
            return f"the weekends block {b.starts_on.isoformat()} to {b.ends_on.isoformat()} holds no Saturday or Sunday"
    for a, b in zip(ordered, ordered[1:]):
        if b.starts_on <= a.ends_on:
            return f"the {a.kind.value} block from {a.starts_on.isoformat()} and the {b.kind.value} block from {b.starts_on.isoformat()} overlap"
    return None


def _days(first: date, last: date, *, weekend_only: bool = False) -> Iterable[date]:
    day = first
    while day <= last:
        if not weekend_only or day.weekday() in WEEKEND:
            yield day
        day += timedelta(days=1)


def local_days(meeting: Meeting) -> list[date]:
    """The days of China's calendar a meeting is held on (an end at midnight does not touch the next day)."""
    first = meeting.starts_at.astimezone(CHINA).date()
    last = (meeting.ends_at.astimezone(CHINA) - timedelta(microseconds=1)).date()
    return list(_days(first, max(first, last)))


def within(block: Span, meeting: Meeting) -> bool:
    """The meeting is held within the block: every day of it between the block's dates, and for
    the weekends block on a Saturday or a Sunday."""
    return all(block.starts_on <= d <= block.ends_on and (block.kind is not BlockKind.weekends or d.weekday() in WEEKEND)
               for d in local_days(meeting))


def outside(blocks: Collection[Span], meetings: Iterable[Meeting]) -> Meeting | None:
    """The first meeting that lies within none of the blocks, or None."""
    return next((m for m in meetings if not any(within(b, m) for b in blocks)), None)


def first_overlap(meetings: Iterable[Meeting]) -> tuple[Meeting, Meeting] | None:
    """Two of the meetings that overlap in time, or None (one ending as the next starts is no overlap)."""
    ordered = sorted(meetings, key=lambda m: (m.starts_at, m.ends_at))
    return next(((a, b) for a, b in zip(ordered, ordered[1:]) if b.starts_at < a.ends_at), None)


# ---------------------------------------------------------------- weekly patterns


def weekly(block: Span, weekday: str, starts: time, ends: time, skip: Collection[date] = ()) -> list[Meeting]:
    """Every `weekday` of the block (China's calendar) from `starts` to `ends` local time,
    except the dates in `skip` (a public holiday, an exam weekend)."""
    number = WEEKDAYS.index(weekday)
    return [Meeting(datetime.combine(d, starts, CHINA), datetime.combine(d, ends, CHINA))
            for d in _days(block.starts_on, block.ends_on) if d.weekday() == number and d not in skip]
