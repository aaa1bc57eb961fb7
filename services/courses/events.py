"""Events the courses service publishes and the consumers of those it takes in.

`courses.programme` takes the admissions (the student joins the programme's students, a
research student when admitted at the high-school stage) and the exits (they leave it, unless
re-admitted after the exit; their registrations for sections first meeting after the exit are
dropped, their waitlist places and offers removed, the seats offered on). `courses.offers`
takes the offers' claim-deadline timers (an offer still open expires and the seat goes to the
next waitlisted student; a claimed or declined offer's timer does nothing).
"""

from services.courses.db import directory
from services.courses.registration import service as registration
from shared.events import Consumer

programme = Consumer("courses.programme", {
    "selection.candidate.admitted": registration.on_admitted,
    "tracking.student.exited": registration.on_exited,
})

offers = Consumer("courses.offers", {"courses.offer.deadline": registration.on_offer_deadline})

consumers: list = [directory.consumer, programme, offers]
