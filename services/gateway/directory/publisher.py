"""Publishing the directory: each change to a person, guardian link, school, partner or consent, in its own transaction.

The identity and consent code calls these right after it flushes a change (and only
flushes: the request's session commits the change and its event together, or neither):

    before = publisher.state(user)      # before changing a record
    ...                                 # change it, flush
    await publisher.changed(session, user, before)   # publishes only if its record changed

`created` for a new row, `unlinked` for a deleted guardian link, `ended` for consents that
ended (withdrawn, or for any other reason), `imported` for the people and links a bulk
import wrote (`versioned` gave their rows their versions as they were written). Each takes
the row's version first (versions.py), then publishes its record (records.py). A person under 14 with a known birth date also gets the timer
`identity.person.turns_14` when registered or when their birth date changes; its handler is
`person_turned_14` (timers.py runs it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import ARRAY, any_, bindparam, select, text, tuple_
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from services.gateway.consent.models import Consent, ConsentEnd
from services.gateway.directory import records
from services.gateway.directory.versions import next_version
from services.gateway.identity import repository as repo
from services.gateway.identity.models import GuardianLink, Partner, School, UserAccount
from shared import clock
from shared.events import Outgoing, publish, publish_many
from shared.events.bus import PUBLISH_BATCH
from shared.events.contracts import identity as contract
from shared.events.contracts.identity import DirectoryRecord, PersonTurns14, subject_of


@dataclass(frozen=True)
class _Kind:
    fields: Callable[[Any], dict[str, Any]]  # the record's fields but its version
    record: Callable[[Any], DirectoryRecord]
    created: str
    changed: str


@cache
def _kinds() -> dict[type, _Kind]:
    # Built on first use: records.py and identity/service.py import each other's modules.
    return {
        UserAccount: _Kind(
            lambda user: records.person_fields(user, clock.today()), records.person_record,
            contract.PERSON_REGISTERED, contract.PERSON_UPDATED,
        ),
        GuardianLink: _Kind(
            records.guardian_link_fields, records.guardian_link_record, contract.GUARDIAN_LINKED, contract.GUARDIAN_LINKED
        ),
        School: _Kind(records.school_fields, records.school_record, contract.SCHOOL_REGISTERED, contract.SCHOOL_UPDATED),
        Partner: _Kind(
            records.partner_fields, records.partner_record, contract.PARTNER_REGISTERED, contract.PARTNER_UPDATED
        ),
        # A consent changes only by ending (`ended`).
        Consent: _Kind(lambda consent: {}, records.consent_record, contract.CONSENT_GIVEN, contract.CONSENT_ENDED),
    }


@dataclass(frozen=True)
class Before:
    """A record as it was before a change (`state`), for `changed` to compare with."""

    fields: dict[str, Any]
    birth_date: date | None = None


def state(row: Any) -> Before:
    return Before(_kinds()[type(row)].fields(row), row.birth_date if isinstance(row, UserAccount) else None)


async def created(session: AsyncSession, row: Any) -> None:
    """A new person, school, partner, guardian link or consent (given)."""
    kind = _kinds()[type(row)]
    await _stamp(session, type(row), [row])
    await _publish(session, kind.created, kind.record(row))
    if isinstance(row, UserAccount):
        await _schedule_turns_14(session, row)


async def changed(session: AsyncSession, row: Any, before: Before) -> None:
    """After a change to `row`: publish its record if any of its fields changed (a person's
    phone, address or password are in none); a person's new birth date also gets its timer."""
    kind = _kinds()[type(row)]
    if kind.fields(row) != before.fields:
        await _stamp(session, type(row), [row])
        await _publish(session, kind.changed, kind.record(row))
    if isinstance(row, UserAccount) and row.birth_date != before.birth_date:
        await _schedule_turns_14(session, row)


async def unlinked(session: AsyncSession, link: GuardianLink) -> None:
    """A guardian link deleted (and flushed): published with `linked` false and a version
    taken now, after the delete, so it orders after every earlier state of the link."""
    version = (await session.execute(select(next_version()))).scalar_one()
    await _publish(session, contract.GUARDIAN_UNLINKED, records.guardian_link_record(link, linked=False, version=version))


async def ended(session: AsyncSession, consents: Sequence[Consent]) -> None:
    """Consents whose end (ended_at, end_reason) is flushed: `withdrawn` for a withdrawal,
    `ended` for every other reason."""
    if not consents:
        return
    await _stamp(session, Consent, consents)
    await publish_many(
        session,
        (
            _outgoing(
                contract.CONSENT_WITHDRAWN if c.end_reason == ConsentEnd.withdrawn else contract.CONSENT_ENDED,
                records.consent_record(c),
            )
            for c in consents
        ),
        source=contract.SOURCE,
    )


# The directory's columns of new rows written by COPY (`versioned` appends their values).
PERSON_COPY_COLUMNS = ("directory_version", "directory_published_at")
LINK_COPY_COLUMNS = ("directory_version",)
_TAKE = text("SELECT nextval('gateway.directory_version') FROM generate_series(1, :n)")
# What a person's record is built from, read back after the import's COPY.
_PERSON_COLUMNS = ("id", "roles", "display_name", "school_id", "partner_id", "grade", "birth_date", "disabled", "directory_version")


async def versioned(session: AsyncSession, rows: bytes, *, people: bool = False) -> bytes:
    """New rows in COPY text (one a line) with their directory columns appended: a version
    each, and for people the time they are published (PERSON_COPY_COLUMNS, LINK_COPY_COLUMNS).

    The one place a version is taken before the write: a row that does not exist yet cannot
    be changed by anyone else before this transaction commits, so its first version orders
    before any later one all the same, and the rows are written once rather than written and
    then updated (every index twice, and a dead copy of each row left behind)."""
    lines = rows.split(b"\n")[:-1]
    if not lines:
        return rows
    taken = (await session.execute(_TAKE, {"n": len(lines)})).scalars().all()
    tail = b"\t" + clock.now().isoformat().encode() if people else b""
    return b"".join(b"%s\t%d%s\n" % (line, version, tail) for line, version in zip(lines, taken))


async def imported(session: AsyncSession, people: Sequence[uuid.UUID]) -> int:
    """Publish the people a bulk import wrote (with `versioned` rows) and their guardian links
    (every link of a new student is new), a batch of people at a time, so no stretch of Python
    work between statements holds the event loop long; how many events."""
    count = 0
    on = clock.today()
    accounts, links = UserAccount.__table__, GuardianLink.__table__
    for start in range(0, len(people), PUBLISH_BATCH):
        ids = bindparam("ids", list(people[start : start + PUBLISH_BATCH]), type_=ARRAY(UUID(as_uuid=True)))
        rows = (
            await session.execute(select(*(accounts.c[name] for name in _PERSON_COLUMNS)).where(accounts.c.id == any_(ids)))
        ).all()
        linked = (
            await session.execute(
                select(links.c.guardian_id, links.c.student_id, links.c.relation, links.c.directory_version)
                .where(links.c.student_id == any_(ids))
            )
        ).all()

        def events(rows=rows, linked=linked) -> Iterator[Outgoing]:
            for row in rows:
                yield _outgoing(contract.PERSON_REGISTERED, records.person_record(row, on=on))
                if records.under_14(row.birth_date, on):
                    yield _turns_14(row.id, row.birth_date)
            for link in linked:
                yield _outgoing(contract.GUARDIAN_LINKED, records.guardian_link_record(link))

        count += await publish_many(session, events(), source=contract.SOURCE)
    return count


async def person_turned_14(session: AsyncSession, person_id: uuid.UUID) -> bool:
    """The timer's work: when the person is 14 now and was last published before that day
    (so their published record says under 14), a new version and `identity.person.updated`.
    True when it published. Again, or for a birth date changed since, it does nothing."""
    user = await repo.get_user(session, person_id, for_update=True)
    if user is None or user.birth_date is None or records.under_14(user.birth_date, clock.today()):
        return False
    published = user.directory_published_at
    if published is not None and published >= records.turns_14_at(user.birth_date):
        return False
    await _stamp(session, UserAccount, [user])
    await _publish(session, contract.PERSON_UPDATED, records.person_record(user))
    return True


# ---------------------------------------------------------------- helpers


async def _stamp(session: AsyncSession, model: type, rows: Sequence[Any]) -> None:
    """Take a new version for each row (written and flushed already), in one UPDATE of their
    table, and set it on the objects. A person's row also notes when it was published."""
    table = model.__table__  # type: ignore[attr-defined]
    keys = list(table.primary_key.columns)
    values: dict[str, Any] = {"directory_version": next_version()}
    if model is UserAccount:
        values["directory_published_at"] = clock.now()
    if len(keys) == 1:
        where = keys[0] == any_(bindparam("keys", [getattr(r, keys[0].name) for r in rows], type_=ARRAY(keys[0].type)))
    else:
        where = tuple_(*keys).in_([tuple(getattr(r, k.name) for k in keys) for r in rows])
    stmt = table.update().where(where).values(**values).returning(*keys, *(table.c[name] for name in values))
    stamped = {tuple(row[: len(keys)]): row[len(keys) :] for row in (await session.execute(stmt)).all()}
    for row in rows:
        for name, value in zip(values, stamped[tuple(getattr(row, k.name) for k in keys)]):
            set_committed_value(row, name, value)


def _outgoing(type: str, record: DirectoryRecord) -> Outgoing:
    return Outgoing(type=type, subject=subject_of(record), payload=record)


def _turns_14(person_id: uuid.UUID, birth_date: date) -> Outgoing:
    return Outgoing(
        type=contract.PERSON_TURNS_14, subject=person_id, payload=PersonTurns14(person_id=person_id),
        available_at=records.turns_14_at(birth_date),
    )


async def _publish(session: AsyncSession, type: str, record: DirectoryRecord) -> None:
    await publish(session, type=type, subject=subject_of(record), payload=record, source=contract.SOURCE)


async def _schedule_turns_14(session: AsyncSession, user: UserAccount) -> None:
    """The timer for the day a person under 14 turns 14 (none when the birth date is unknown)."""
    if records.under_14(user.birth_date, clock.today()):
        timer = _turns_14(user.id, user.birth_date)  # type: ignore[arg-type]
        await publish(
            session, type=timer.type, subject=timer.subject, payload=timer.payload, source=contract.SOURCE,
            available_at=timer.available_at,
        )
