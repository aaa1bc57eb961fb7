"""Courses' events (source "courses").

`courses.grade_skip.approved` goes out once per grade-skip application, when the bureau's admin
gives the last of its three approvals (the student's school's coordinator, the pilot base's
staff, then admin): the student moves from `from_grade` (their grade when they applied) to
`to_grade`. Tracking moves the student's grade. Subject: the student's id.

`courses.registration.confirmed` goes out when a student holds a seat in a section: a seat
free when they registered, or an offer they claimed. `courses.registration.dropped` when a
confirmed seat is given up: dropped by the student or staff before the drop deadline, or by
the student's exit (`reason` "exited"). Subject: the student's id.

`courses.offer.made` goes out when a freed seat (a drop, an offer declined or expired, a
capacity raise, an exit) is held for the first eligible waitlisted student until `claim_by`;
`courses.offer.expired` when it was not claimed by then (the seat goes to the next).
Subject: the student's id.

`courses.offer.deadline` is a timer, consumed by courses itself: published with `available_at`
at the offer's `claim_by`; it expires the offer if it is still open (a claimed or declined
offer's timer does nothing). Subject: the offer's id. No names: ids only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from shared.events.contracts import EventContract, contract

SOURCE = "courses"


@contract("courses.grade_skip.approved", 1)
class GradeSkipApproved(EventContract):
    """A grade skip granted at all three levels."""

    application_id: uuid.UUID
    student_id: uuid.UUID
    from_grade: int = Field(ge=1, le=12)
    to_grade: int = Field(ge=1, le=12)
    approved_at: datetime


class SeatEvent(EventContract):
    registration_id: uuid.UUID
    student_id: uuid.UUID
    section_id: uuid.UUID
    course_id: uuid.UUID
    term_id: uuid.UUID


@contract("courses.registration.confirmed", 1)
class RegistrationConfirmed(SeatEvent):
    """The student holds a seat in the section."""

    confirmed_at: datetime


@contract("courses.registration.dropped", 1)
class RegistrationDropped(SeatEvent):
    """The student's confirmed seat was given up."""

    reason: Literal["dropped", "exited"] = Field(description="dropped: by the student or staff; exited: the student left the programme.")
    dropped_at: datetime


@contract("courses.offer.made", 1)
class OfferMade(SeatEvent):
    """A seat is held for the waitlisted student until `claim_by`."""

    offer_id: uuid.UUID
    claim_by: datetime


@contract("courses.offer.expired", 1)
class OfferExpired(SeatEvent):
    """The offer was not claimed by `claim_by`; the seat went to the next waitlisted student."""

    offer_id: uuid.UUID
    claim_by: datetime


@contract("courses.offer.deadline", 1)
class OfferDeadline(EventContract):
    """Timer: offer `offer_id` must be claimed by `claim_by`."""

    offer_id: uuid.UUID
    claim_by: datetime


# `courses.course.completed` goes out when a student's final result in a section completes the
# course (a pass: the course now counts as a prerequisite met), and again whenever staff
# correct that result: a corrected grade still passing (`outcome` "pass", the new grade), or a
# pass corrected to a fail that withdrew the completion (`outcome` "fail": the course is no
# longer completed). For a student and course the latest event holds. Recording the same
# result again publishes nothing. A completion by exemption (免修) is not announced here.
# Subject: the student's id.
@contract("courses.course.completed", 1)
class CourseCompleted(EventContract):
    """The student's result in the section completes the course (pass), or no longer does (fail)."""

    student_id: uuid.UUID
    course_id: uuid.UUID
    section_id: uuid.UUID
    term_id: uuid.UUID
    outcome: Literal["pass", "fail"]
    grade: Decimal | None = Field(default=None, ge=0, le=100, description="0-100 when the result was graded.")
    completed_at: datetime = Field(description="When the completion was written (or, outcome fail, withdrawn).")
