"""Events the mentoring service publishes and the consumers of those it takes in.

`mentoring.pools` takes the admissions (a student needs a lab and a life mentor) and the exits
(their needs close, their mentorships end). `mentoring.reminders` takes the milestones' due-date
timers (a milestone still due at the timer's date is marked reminded; a moved one's timer lapses).
`mentoring.lectures` takes the exits too: the student's registrations for lectures starting after
the exit are cancelled and their places freed.
"""

from services.mentoring.db import directory
from services.mentoring.lectures import service as lectures
from services.mentoring.mentors import service as mentors
from services.mentoring.projects import service as projects
from shared.events import Consumer

pools = Consumer("mentoring.pools", {
    "selection.candidate.admitted": mentors.on_admitted,
    "tracking.student.exited": mentors.on_exited,
})

reminders = Consumer("mentoring.reminders", {"mentoring.milestone.due": projects.on_milestone_due})

lecture_places = Consumer("mentoring.lectures", {
    "tracking.student.exited": lectures.on_exited,
})

consumers: list = [directory.consumer, pools, reminders, lecture_places]
