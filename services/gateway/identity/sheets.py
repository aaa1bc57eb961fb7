"""A school's student list, from the file's bytes to the rows to write: its columns, checking, sealing, deciding.

Reading the file itself (CSV or XLSX, the header, each cell) is shared/sheets'; what is here
is the student list's: its columns and the rules that need the database. Plain CPU work with
no I/O, in two steps that run in a worker process (shared/workers.py), so parsing a workbook
(openpyxl holds the GIL throughout), encrypting thousands of ID numbers and writing out the
report never stall the gateway's event loop. Between the steps the import asks the database
what `read` says it must (`Questions`); `plan` decides with the answers. What the loop
receives is small or opaque: the questions, the rows to write as COPY text, the report as
JSON. No plaintext ID number or phone leaves the worker.
"""

from __future__ import annotations

import pickle
import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.gateway.identity.schemas import USERNAME_PATTERN, ImportedStudent, ImportMode, ImportReport
from services.gateway.identity.sealing import Sealed, seal
from services.gateway.identity.validation import parse_grade, parse_relation
from shared.crypto import FieldCipher
from shared.problems import InvalidValue, ProblemError
from shared.sheets import MAX_UNPACKED_XLSX, CellProblem, Column, Columns, Layout, Table, cells

_USERNAME = re.compile(USERNAME_PATTERN)


def _checked_username(value: Any) -> str:
    username = cells.text(value) or ""
    if not _USERNAME.match(username):
        raise InvalidValue("username_invalid", "not a username")
    return username


def student_columns(*, today: date, default_school: str | None) -> Columns:
    """The columns of a school's student list: the school's from the file, else `default_school`."""
    return Columns(
        Column("name", en=("student name", "full name"), zh=("姓名", "学生姓名", "名字"), required=True, max_length=100),
        Column(
            "id_number", en=("id", "resident id"), zh=("身份证号", "身份证号码", "学生身份证号", "学生身份证号码", "身份证", "证件号码", "证件号"),
            required=True, parse=cells.resident_id(today=today), unique=lambda resident: resident.number,
        ),
        Column(
            "school", en=("school name",), zh=("学校", "学校名称", "所在学校", "就读学校"), required=True, max_length=200,
            default=default_school,
        ),
        Column("grade", en=("year",), zh=("年级", "就读年级"), required=True, parse=parse_grade, missing_code="grade_missing"),
        Column(
            "guardian_name", en=("guardian", "parent name"), zh=("监护人姓名", "监护人", "家长姓名", "家长"), required=True,
            max_length=100,
        ),
        Column(
            "guardian_phone", en=("parent phone",),
            zh=(
                "监护人电话", "监护人手机", "监护人手机号", "监护人联系电话", "家长电话", "家长手机", "家长手机号",
                "家长联系电话", "联系电话", "联系方式",
            ),
            required=True, parse=cells.phone,
        ),
        Column("relation", en=("relationship",), zh=("关系", "与学生关系", "监护人关系", "与学生的关系"), parse=parse_relation, default="other"),
        Column("username", en=("login",), zh=("用户名", "账号", "登录名"), parse=_checked_username, max_length=100, unique=str.lower),
        Column("phone", en=("student phone", "mobile"), zh=("学生电话", "学生手机", "学生手机号"), parse=cells.phone),
        Column("address", en=("home address",), zh=("家庭住址", "地址", "住址", "家庭地址"), max_length=200),
    )


@dataclass
class Row:
    """A data row that passed the checks that need no database."""

    line: int
    name: str
    id_number: str
    birth_date: date
    school: str | None
    grade: int
    guardian_name: str
    guardian_phone: str
    relation: str
    username: str | None
    phone: str | None
    address: str | None


def check_rows(columns: Columns, table: Table) -> tuple[list[Row], list[CellProblem]]:
    """Every check that needs only the file: each column's (shared/sheets), and a student's phone
    that is their guardian's."""
    good: list[Row] = []
    problems: list[CellProblem] = []
    for row in columns.check(table):
        if row["phone"] is not None and row["phone"] == row["guardian_phone"]:
            row.bad("guardian_phone", "guardian_is_student")
        if not row.ok:
            problems.extend(row.problems)
            continue
        resident = row["id_number"]
        good.append(
            Row(
                line=row.line, name=row["name"], id_number=resident.number, birth_date=resident.birth_date,
                school=row["school"], grade=row["grade"], guardian_name=row["guardian_name"],
                guardian_phone=row["guardian_phone"], relation=row["relation"], username=row["username"],
                phone=row["phone"], address=row["address"],
            )
        )
    return good, problems


# ---------------------------------------------------------------- the import, in two steps

# The columns each new row is written with (by COPY; the others take their defaults).
ACCOUNT_COLUMNS = (
    "id", "username", "display_name", "password_hash", "roles", "disabled", "school_id", "partner_id", "grade",
    "birth_date", "id_number_cipher", "id_number_index", "phone_cipher", "phone_index", "address_cipher", "version",
)
LINK_COLUMNS = ("guardian_id", "student_id", "relation")


@dataclass(frozen=True)
class SheetRow:
    """A row that passed the file's checks, with its student's personal data sealed."""

    line: int
    name: str
    birth_date: date
    school: str | None
    grade: int
    guardian_name: str
    guardian_phone_index: str
    relation: str
    username: str | None
    student: Sealed


@dataclass
class Sheet:
    layout: Layout
    ignored_columns: list[str]
    rows: int  # data rows in the file
    checked: list[SheetRow]
    problems: list[CellProblem]
    # A guardian account to create per guardian phone (by its blind index), used when no
    # registered guardian has that phone.
    guardians: dict[str, Sealed]


@dataclass(frozen=True)
class Questions:
    """What the import must ask the database about a file's checked rows."""

    schools: list[str]
    id_indexes: list[str]
    usernames: list[str]
    guardian_phones: list[str]


@dataclass(frozen=True)
class Read:
    questions: Questions
    # The pickled Sheet: the event loop hands it back to `plan` without unpacking it.
    sheet: bytes


@dataclass(frozen=True)
class Answers:
    """The database's answers to the Questions."""

    schools: dict[str, tuple[uuid.UUID, bool]]  # lower-cased name -> (id, disabled)
    registered: set[str]  # ID number indexes of registered people
    taken_usernames: set[str]  # lower-cased
    guardians: dict[str, list[tuple[uuid.UUID, str, str]]]  # phone index -> (id, username, display name)
    coordinator_school: uuid.UUID | None  # a coordinator imports into this school only


@dataclass(frozen=True)
class Plan:
    """What to write, as COPY text (ACCOUNT_COLUMNS, LINK_COLUMNS), and the report, as JSON."""

    accounts: bytes
    links: bytes
    report: bytes
    # The ids of the accounts written (students and new guardians), for the directory.
    people: list[uuid.UUID] = field(default_factory=list)


def read(
    data: bytes, *, cipher: FieldCipher, today: date, default_school: str | None, max_rows: int,
    max_unpacked: int = MAX_UNPACKED_XLSX,
) -> Read:
    """Step one: read and check the file, seal each checked row's personal data, and say what
    the database must be asked (a problem for a file refused whole)."""
    columns = student_columns(today=today, default_school=default_school)
    table = columns.table(data, max_rows=max_rows, max_unpacked=max_unpacked)
    columns.require(table)
    rows, problems = check_rows(columns, table)
    checked: list[SheetRow] = []
    guardians: dict[str, Sealed] = {}
    for row in rows:
        phone_index = cipher.blind_index(row.guardian_phone, purpose="phone")
        if phone_index not in guardians:
            guardians[phone_index] = seal(cipher, phone=row.guardian_phone)
        checked.append(
            SheetRow(
                line=row.line, name=row.name, birth_date=row.birth_date, school=row.school, grade=row.grade,
                guardian_name=row.guardian_name, guardian_phone_index=phone_index, relation=row.relation,
                username=row.username, student=seal(cipher, id_number=row.id_number, phone=row.phone, address=row.address),
            )
        )
    sheet = Sheet(
        layout=table.layout, ignored_columns=table.ignored_columns, rows=len(table.rows), checked=checked,
        problems=problems, guardians=guardians,
    )
    questions = Questions(
        schools=sorted({r.school for r in checked if r.school}),
        id_indexes=[r.student.id_number_index for r in checked if r.student.id_number_index],
        usernames=[r.username for r in checked if r.username],
        guardian_phones=list(guardians),
    )
    return Read(questions=questions, sheet=pickle.dumps(sheet, protocol=pickle.HIGHEST_PROTOCOL))


def plan(sheet_blob: bytes, answers: Answers, *, mode: ImportMode, lang: str) -> Plan:
    """Step two: with the database's answers, decide each row, and write out the new accounts,
    the guardian links and the report (or refuse the file: `import_rejected`)."""
    sheet: Sheet = pickle.loads(sheet_blob)
    problems = list(sheet.problems)
    accepted: list[tuple[SheetRow, uuid.UUID]] = []
    guardian_name_of_phone: dict[str, str] = {}
    for row in sheet.checked:
        found: list[CellProblem] = []
        school = answers.schools.get(row.school.lower()) if row.school else None
        if school is None or school[1]:
            found.append(CellProblem(row.line, "school", "school_unknown"))
        elif answers.coordinator_school is not None and school[0] != answers.coordinator_school:
            found.append(CellProblem(row.line, "school", "school_not_yours"))
        if row.student.id_number_index in answers.registered:
            found.append(CellProblem(row.line, "id_number", "student_exists"))
        if row.username and row.username.lower() in answers.taken_usernames:
            found.append(CellProblem(row.line, "username", "username_taken", (("username", row.username),)))
        existing = answers.guardians.get(row.guardian_phone_index, [])
        if existing and not any(same_name(name, row.guardian_name) for _, _, name in existing):
            found.append(CellProblem(row.line, "guardian_phone", "guardian_mismatch"))
        if not same_name(guardian_name_of_phone.setdefault(row.guardian_phone_index, row.guardian_name), row.guardian_name):
            found.append(CellProblem(row.line, "guardian_phone", "guardian_mismatch"))
        if found:
            problems.extend(found)
        else:
            accepted.append((row, school[0]))  # type: ignore[index]

    errors = sheet.layout.errors(problems, lang)
    bad_lines = {p.line for p in problems}
    if errors and mode is ImportMode.all_or_nothing:
        raise ProblemError("import_rejected", count=len(bad_lines), errors=[e.model_dump() for e in errors])

    students: list[ImportedStudent] = []
    # Per guardian phone: (guardian id, username, created by this import).
    guardians: dict[str, tuple[uuid.UUID, str, bool]] = {}
    accounts: list[tuple[Any, ...]] = []
    links: list[tuple[Any, ...]] = []
    for row, school_id in accepted:
        username = row.username or _username("stu")
        accounts.append(_account(row.student, username, row.name, "student", school_id, row.grade, row.birth_date))
        guardian = guardians.get(row.guardian_phone_index)
        if guardian is None:
            match = next(
                (g for g in answers.guardians.get(row.guardian_phone_index, []) if same_name(g[2], row.guardian_name)), None
            )
            if match is not None:
                guardian = (match[0], match[1], False)
            else:
                sealed = sheet.guardians[row.guardian_phone_index]
                guardian = (sealed.id, _username("gdn"), True)
                accounts.append(_account(sealed, guardian[1], row.guardian_name, "guardian"))
            guardians[row.guardian_phone_index] = guardian
        links.append((guardian[0], row.student.id, row.relation))
        students.append(
            ImportedStudent(
                line=row.line, student_id=row.student.id, username=username, guardian_id=guardian[0],
                guardian_username=guardian[1], guardian_created=guardian[2],
            )
        )
    report = ImportReport(
        mode=mode, rows=sheet.rows, imported=len(students), rejected=len(bad_lines), students=students,
        guardians_created=sum(1 for *_, created in guardians.values() if created),
        guardians_linked_existing=sum(1 for *_, created in guardians.values() if not created),
        errors=errors, ignored_columns=sheet.ignored_columns,
    )
    return Plan(
        accounts=copy_text(accounts), links=copy_text(links), report=report.model_dump_json().encode(),
        people=[account[0] for account in accounts],
    )


def _account(
    sealed: Sealed, username: str, display_name: str, role: str, school_id: uuid.UUID | None = None,
    grade: int | None = None, birth_date: date | None = None,
) -> tuple[Any, ...]:
    """A new account without a password, in ACCOUNT_COLUMNS order."""
    return (
        sealed.id, username, display_name, None, [role], False, school_id, None, grade, birth_date,
        sealed.id_number_cipher, sealed.id_number_index, sealed.phone_cipher, sealed.phone_index, sealed.address_cipher, 1,
    )


def _username(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def same_name(a: str, b: str) -> bool:
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", a)).lower() == re.sub(r"\s", "", unicodedata.normalize("NFKC", b)).lower()


# ---------------------------------------------------------------- COPY text format

# PostgreSQL's COPY text format: tab-separated, \N for NULL, and these characters escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()  # bytea's hex input, its backslash escaped
    if isinstance(value, list):
        # Arrays of plain words (roles): no element needs quoting.
        return "{" + ",".join(value) + "}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def copy_text(rows: list[tuple[Any, ...]]) -> bytes:
    """Rows as COPY ... FROM STDIN (FORMAT text) reads them."""
    return "".join("\t".join(map(_copy_value, row)) + "\n" for row in rows).encode("utf-8")
