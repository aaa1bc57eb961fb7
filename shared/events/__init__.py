"""The shared event table: `publish` in the caller's transaction, `Consumer` handlers run by the worker.

Producing (in a service's `service.py`/`flows.py`, inside the request's transaction):

    from shared.events import publish
    await publish(session, type="courses.registration.confirmed", subject=student_id,
                  payload=RegistrationConfirmed(...), source="courses")

The payload's model lives in `shared/events/contracts/<producer>.py`, decorated with
`@contract(type, version)`. A timer is an event with `available_at=` in the future; its
handler checks whether it still applies. Times come from `shared.clock`, which tests freeze
and move. `publish_many(session, [Outgoing(...), ...], source=...)` writes thousands (a bulk
import's) in one statement per few hundred, with the same guarantees.

Consuming (a service's `events.py`, passed to `create_service_app(consumers=...)`):

    async def on_confirmed(session: AsyncSession, event: EventEnvelope) -> None:
        ...  # write through `session`; flush, never commit
    consumers = [Consumer("tracking", {"courses.registration.confirmed": on_confirmed})]

A handler's writes commit together with its delivery's done mark, so they happen exactly
once; the handler may run more than once (after a crash or a failed attempt), so anything it
does outside the database must be safe to repeat. A handler that raises, or kills its
process or its database connection, is retried with backoff, and dead-lettered after
`SPROUT_EVENTS_MAX_ATTEMPTS` attempts (`sprout events dead`). A process takes only the event
types it has handlers for; the others wait, untouched, for a process that has them.

What the bus promises about order: a consumer receives the events of one subject in the
order they were published (id order, which is commit order when publishers serialise on the
aggregate, as a service's transaction does), and none before every earlier one of that
subject is done or discarded. A delivery that fails holds back the later ones of its
subject, for that consumer only, while it is retried and still once it is dead: if a
student's "admitted" is dead-lettered, their "exited" waits behind it. Ops then chooses:
`sprout events replay ID` runs it again, first, and the held ones follow in order; `sprout
events discard ID` gives it up for good (it is never handled) and the held ones go on.
`sprout events dead` shows how many deliveries each dead one holds back, `sprout events
stats` how many are held per consumer. The one exception: a timer (future `available_at`)
holds nothing until it is due, so events of its subject published after it may arrive before
it.

See bus.py, worker.py, listener.py, contracts/ and admin.py.
"""

from shared.events.bus import Outgoing, publish, publish_many
from shared.events.contracts import EventContract, UnknownEventType, contract
from shared.events.worker import Consumer, EventEnvelope, RetryPolicy, register_subscriptions, run_consumers

__all__ = [
    "Consumer",
    "EventContract",
    "EventEnvelope",
    "Outgoing",
    "RetryPolicy",
    "UnknownEventType",
    "contract",
    "publish",
    "publish_many",
    "register_subscriptions",
    "run_consumers",
]
