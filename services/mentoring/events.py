"""Events the mentoring service publishes and the consumers of those it takes in.

`mentoring.pools` takes the admissions (a student needs a lab and a life mentor) and the exits
(their needs close, their mentorships end).
"""

from services.mentoring.db import directory
from services.mentoring.mentors import service as mentors
from shared.events import Consumer

pools = Consumer("mentoring.pools", {
    "selection.candidate.admitted": mentors.on_admitted,
    "tracking.student.exited": mentors.on_exited,
})

consumers: list = [directory.consumer, pools]
