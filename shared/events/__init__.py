"""The shared event table: `publish` in the caller's transaction, `Consumer` handlers run by the worker.

Producing (in a service's `service.py`/`flows.py`, inside the request's transaction):

    from shared.events import publish
    await publish(session, type="courses.registration.confirmed", subject=student_id,
                  payload=RegistrationConfirmed(...), source="courses")

The payload's model lives in `shared/events/contracts/<producer>.py`, decorated with
`@contract(type, version)`. A timer is an event with `available_at=` in the future; its
handler checks whether it still applies. Times come from `shared.clock`, which tests freeze
and move.

Consuming (a service's `events.py`, passed to `create_service_app(consumers=...)`):

    async def on_confirmed(session: AsyncSession, event: EventEnvelope) -> None:
        ...  # write through `session`; flush, never commit
    consumers = [Consumer("tracking", {"courses.registration.confirmed": on_confirmed})]

A handler's writes commit together with its delivery's done mark, so they happen exactly
once; the handler may run more than once (after a crash or a failed attempt), so anything it
does outside the database must be safe to repeat. Events of one subject arrive in order.
A handler that raises is retried with backoff, then dead-lettered: `sprout events dead`,
`sprout events replay`. See bus.py, worker.py, listener.py, contracts/ and admin.py.
"""

from shared.events.bus import publish
from shared.events.contracts import EventContract, UnknownEventType, contract
from shared.events.worker import Consumer, EventEnvelope, RetryPolicy, register_subscriptions, run_consumers

__all__ = [
    "Consumer",
    "EventContract",
    "EventEnvelope",
    "RetryPolicy",
    "UnknownEventType",
    "contract",
    "publish",
    "register_subscriptions",
    "run_consumers",
]
