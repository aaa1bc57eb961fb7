"""Events the tracking service publishes and the consumers of those it takes in.

`tracking.enrolment` takes the admissions (a student joins, gains a discipline, or re-enters
after an exit) and the approved grade skips (the grade moves). `tracking.timeline` takes every
kind of `KINDS` (services/tracking/timeline/service.py) into the students' timelines.
`tracking.mentors` keeps who mentors whom from mentoring's pairs, for the mentors' row scoping.
Each is safe under redelivery: enrolment changes and timeline entries are keyed by the event's id.
"""

from services.tracking.db import directory
from services.tracking.enrolment import service as enrolment
from services.tracking.timeline import service as timeline
from shared.events import Consumer

enrolments = Consumer("tracking.enrolment", {
    "selection.candidate.admitted": enrolment.on_admitted,
    "courses.grade_skip.approved": enrolment.on_grade_skip,
})

timelines = Consumer("tracking.timeline", {kind: timeline.on_event for kind in timeline.KINDS})

mentors = Consumer("tracking.mentors", {
    "mentoring.mentor.assigned": timeline.on_mentor_assigned,
    "mentoring.mentorship.ended": timeline.on_mentorship_ended,
})

consumers: list = [directory.consumer, enrolments, timelines, mentors]
