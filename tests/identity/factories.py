"""Test data: valid resident ID numbers, and schools and people written through the identity service.

Each row made here is published to the directory (services/gateway/directory/) as the
gateway's own writes are, so the snapshot and the events know it.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.directory import publisher as directory
from services.gateway.identity import service
from services.gateway.identity.models import GuardianLink, Partner, School, SchoolLevel, UserAccount
from shared.crypto import FieldCipher, development_cipher
from shared.personal import id_check_character

_seq = itertools.count(100)


def id_number(born: date, *, region: str = "110105", seq: int | None = None) -> str:
    """A resident ID number with a correct check character (unique per call unless `seq` is given)."""
    n = next(_seq) % 1000 if seq is None else seq
    first17 = f"{region}{born:%Y%m%d}{n:03d}"
    return first17 + id_check_character(first17)


def bad_checksum(number: str) -> str:
    """The same number with a wrong check character."""
    wrong = next(c for c in "0123456789X" if c != number[17])
    return number[:17] + wrong


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def cipher() -> FieldCipher:
    # Test settings configure no keys, so the app uses the development cipher too.
    return development_cipher()


async def make_school(session: AsyncSession, *, name: str | None = None, level: SchoolLevel = SchoolLevel.middle) -> School:
    school = School(id=uuid.uuid4(), name=name or unique("school"), district="海淀区", level=level)
    session.add(school)
    await session.flush()
    await directory.created(session, school)
    return school


async def make_user(
    session: AsyncSession,
    *roles: str,
    school: School | None = None,
    grade: int | None = None,
    born: date | None = None,
    phone: str | None = None,
    address: str | None = None,
    name: str | None = None,
    with_id: bool = True,
    partner: Partner | None = None,
    username: str | None = None,
) -> UserAccount:
    user = service.new_user(
        username=username or unique("user"),
        display_name=name or unique("name"),
        roles=roles,
        school_id=school.id if school else None,
        partner_id=partner.id if partner else None,
        grade=grade,
        personal=service.PersonalInput(
            id_number=id_number(born) if (born and with_id) else None, phone=phone, address=address
        ),
        birth_date=born if not with_id else None,
        cipher=cipher(),
        on=date.today(),
    )
    session.add(user)
    await session.flush()
    await directory.created(session, user)
    return user


async def make_student(session: AsyncSession, school: School, *, born: date = date(2012, 5, 1), grade: int = 7, **kw) -> UserAccount:
    return await make_user(session, "student", school=school, grade=grade, born=born, **kw)


async def link(session: AsyncSession, guardian: UserAccount, student: UserAccount, relation: str = "mother") -> None:
    row = GuardianLink(guardian_id=guardian.id, student_id=student.id, relation=relation)
    session.add(row)
    await session.flush()
    await directory.created(session, row)
