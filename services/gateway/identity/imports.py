"""Bulk import of students and their guardians from the file a school sends (CSV or XLSX).

Reading the file, checking each row, sealing its personal data and deciding what to write
are plain functions (`sheets.py`, on shared/sheets) run in a worker process (shared/workers.py),
so a large file never stalls the event loop; `import_students` asks the database what they need to know (schools, people
already registered) and writes everything in the request's one transaction, so a file is
never half imported.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.directory import publisher as directory
from services.gateway.identity import repository as repo
from services.gateway.identity import service, sheets
from services.gateway.identity.models import GuardianLink, UserAccount
from services.gateway.identity.schemas import ImportMode
from shared import clock
from shared.crypto import FieldCipher
from shared.ids import as_uuid
from shared.problems import ProblemError
from shared.sheets import in_worker
from shared.tokens import Principal
from shared.unique import unique_or_problem
from shared.workers import WorkerPool

DESCRIPTION = """\
Upload the school's list as `multipart/form-data` with the file in the field `file`: a CSV
(UTF-8 with or without BOM, GBK/GB18030 as Excel saves it in Chinese, or UTF-16 "Unicode text";
comma, semicolon or tab separated) or an XLSX workbook (its first sheet). The first non-empty
row is the header; Chinese or English column names are accepted:

| column | accepted headers | required |
|---|---|---|
| name | 姓名, 学生姓名, name | yes |
| id_number | 身份证号, 身份证号码, 证件号码, id_number | yes |
| school | 学校, 学校名称, school | unless `school_id` is given (a coordinator's own school by default) |
| grade | 年级, grade: `7`, `七年级`, `初一`, `高三`, `一年级` | yes |
| guardian_name | 监护人姓名, 家长姓名, guardian_name | yes |
| guardian_phone | 监护人电话, 家长电话, 联系电话, guardian_phone | yes |
| relation | 关系, 与学生关系, relation: 父亲, 母亲, 爷爷, ... | no |
| username | 用户名, 账号, username (generated when empty) | no |
| phone | 学生电话, phone | no |
| address | 家庭住址, 地址, address | no |

Every row is checked (ID number checksum and birth date, known school, grade 1-12, no student
twice in the file or already registered, guardian phone) before anything is written. By default
(`mode=all_or_nothing`) one bad row rejects the file with 422 `import_rejected`, whose `errors`
list each bad row by its line in the file (as a spreadsheet shows it), column and reason, in
English and Chinese. With `mode=valid_rows_only` the good rows are imported and the report lists
the bad ones. Guardians are matched by phone number (and name) or created, and linked to their
students. The answer lists each created student's login name; students and new guardians have
no password until one is set.
"""

# A workbook that unpacks to more than this is refused unread (a "zip bomb"); a real student
# list is far smaller.
MAX_UNPACKED_XLSX = sheets.MAX_UNPACKED_XLSX


async def import_students(
    *,
    session: AsyncSession,
    principal: Principal,
    cipher: FieldCipher,
    pool: WorkerPool,
    data: bytes,
    filename: str,
    mode: ImportMode,
    default_school_id: uuid.UUID | None,
    max_rows: int,
    lang: str,
) -> bytes:
    """Import the file; the report (schemas.ImportReport) as JSON."""
    coordinator_school = None
    if not principal.has_role("admin"):
        # A coordinator imports into their own school only, whatever the file or the query says.
        coordinator_school = as_uuid(principal.school_id)
        if coordinator_school is None:
            raise ProblemError("forbidden", roles="admin, coordinator of a school")
        default_school_id = default_school_id or coordinator_school
    default_school = None
    if default_school_id is not None:
        school = await repo.get_school(session, default_school_id)
        if school is None:
            raise ProblemError("school_not_found", school_id=default_school_id)
        default_school = school.name

    read: sheets.Read = await in_worker(
        pool, sheets.read, data, cipher=cipher, today=clock.today(), default_school=default_school, max_rows=max_rows,
        max_unpacked=MAX_UNPACKED_XLSX,
    )
    # What the database knows, asked once per file rather than once per row.
    asked = read.questions
    schools = await repo.schools_by_names(session, asked.schools)
    answers = sheets.Answers(
        schools={name: (s.id, s.disabled) for name, s in schools.items()},
        registered=await repo.id_indexes_taken(session, asked.id_indexes),
        taken_usernames=await repo.usernames_taken(session, asked.usernames),
        guardians={
            index: [(u.id, u.username, u.display_name) for u in users if "guardian" in u.roles]
            for index, users in (await repo.users_by_phone_index(session, asked.guardian_phones)).items()
        },
        coordinator_school=coordinator_school,
    )
    plan: sheets.Plan = await in_worker(pool, sheets.plan, read.sheet, answers, mode=mode, lang=lang)
    # Each new row with its directory version, taken as it is written (directory/publisher.py).
    accounts = await directory.versioned(session, plan.accounts, people=True)
    links = await directory.versioned(session, plan.links)
    # Users first, then links: the links' foreign keys need the users' rows. A concurrent
    # import of the same student loses on the unique ID number index, as a 409.
    async with unique_or_problem(session, "id_number_taken", constraints=service.CONSTRAINTS, username="?"):
        await repo.copy_rows(
            session, UserAccount.__table__, sheets.ACCOUNT_COLUMNS + directory.PERSON_COPY_COLUMNS, accounts
        )
    await repo.copy_rows(session, GuardianLink.__table__, sheets.LINK_COLUMNS + directory.LINK_COPY_COLUMNS, links)
    # Their events, in this transaction: the import commits with them or not at all.
    await directory.imported(session, plan.people)
    return plan.report
