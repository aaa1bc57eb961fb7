"""A crowd for registration under load: many programme students known to courses, and a term with sections open for them.

Shared by tests/courses/test_registration_load.py (2,000 students, one section, two replicas)
and the benchmark tests/perf/registration.py (20,000 students, 40 sections, through the
gateway). The rows are the ones the service itself writes: the directory read model by the
directory consumer's own upsert (shared/directory/store.py `apply`, in batches), the
programme by the programme consumer's handler (`service.on_admitted`, once per student, as each
`selection.candidate.admitted` delivery would), and the catalogue and the window by the
catalogue helpers and `service.create_window`, each on the record. So every check a
registration runs (programme, hold, window, grade, prerequisites, time, load) runs for real.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests.courses.support import admission, new_course, new_section, new_term, window_in

# PersonRecord has ten columns: 1,000 rows stay well under PostgreSQL's 32,767 parameters a statement.
DIRECTORY_BATCH = 1000


@dataclass(frozen=True)
class Opened:
    term: Any
    course: Any
    sections: list[Any]


async def enrol(s: Any, students: Sequence[uuid.UUID], school: uuid.UUID, *, grade: int, at: datetime) -> None:
    """Each student a student of `school` in courses' directory read model, and admitted to the programme at `at`."""
    from services.courses.db import directory
    from services.courses.registration import service
    from shared.directory.store import apply
    from shared.events.contracts.identity import PersonRecord

    for start in range(0, len(students), DIRECTORY_BATCH):
        await apply(s, directory.tables, [PersonRecord(version=1, person_id=p, roles=["student"], display_name="学生", school_id=school,
                                                       grade=grade) for p in students[start:start + DIRECTORY_BATCH]])
    for p in students:
        await service.on_admitted(s, admission(str(p), str(school), grade=grade, at=at))


async def open_sections(s: Any, staff: Any, *, sections: int, capacity: int, now: datetime) -> Opened:
    """A term with its window open to every grade from an hour ago for three days, one course, and
    `sections` sections of `capacity` seats, each meeting at its own hour a month from now."""
    from services.courses.registration import service

    term, course = await new_term(s), await new_course(s)
    await service.create_window(s, staff, window_in(term.id, opens=now - timedelta(hours=1), closes=now + timedelta(days=3)))
    made = [await new_section(s, term, course, starts=now + timedelta(days=30, hours=3 * k), capacity=capacity) for k in range(sections)]
    return Opened(term, course, made)
