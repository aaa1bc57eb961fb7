"""Bulk import of students and their guardians from the file a school sends (CSV or XLSX).

Reading the file and checking each row are plain functions (`read_table`, `check_rows`);
`import_students` adds the database's answers (schools, people already registered) and
writes everything in the request's one transaction, so a file is never half imported.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import unicodedata
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.crypto import FieldCipher
from services.gateway.identity import repository as repo
from services.gateway.identity import service
from services.gateway.identity.models import GuardianLink, UserAccount
from services.gateway.identity.schemas import USERNAME_PATTERN, ImportedStudent, ImportMode, ImportReport, RowError
from services.gateway.identity.validation import (
    InvalidValue,
    normalise_phone,
    parse_grade,
    parse_relation,
    parse_resident_id,
)
from shared.catalogue import CATALOGUE
from shared.problems import ProblemError
from shared.tokens import Principal

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

# Canonical column -> the headers schools write (compared after `_header_key`).
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "学生姓名", "名字", "name", "studentname", "fullname"),
    "id_number": ("身份证号", "身份证号码", "学生身份证号", "学生身份证号码", "身份证", "证件号码", "证件号", "idnumber", "id", "residentid"),
    "school": ("学校", "学校名称", "所在学校", "就读学校", "school", "schoolname"),
    "grade": ("年级", "就读年级", "grade", "year"),
    "guardian_name": ("监护人姓名", "监护人", "家长姓名", "家长", "guardianname", "guardian", "parentname"),
    "guardian_phone": (
        "监护人电话", "监护人手机", "监护人手机号", "监护人联系电话", "家长电话", "家长手机", "家长手机号",
        "家长联系电话", "联系电话", "联系方式", "guardianphone", "parentphone",
    ),
    "relation": ("关系", "与学生关系", "监护人关系", "与学生的关系", "relation", "relationship"),
    "username": ("用户名", "账号", "登录名", "username", "login"),
    "phone": ("学生电话", "学生手机", "学生手机号", "phone", "studentphone", "mobile"),
    "address": ("家庭住址", "地址", "住址", "家庭地址", "address", "homeaddress"),
}
REQUIRED = ("name", "id_number", "grade", "guardian_name", "guardian_phone")
MAX_LENGTH = {"name": 100, "guardian_name": 100, "school": 200, "address": 200}
_USERNAME = re.compile(USERNAME_PATTERN)


def _header_key(text: str) -> str:
    # "身份证号（18位）*", "Guardian Phone", "guardian_phone" all reduce to their bare words.
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = re.sub(r"\(.*?\)", "", text)
    return re.sub(r"[\s_\-*:：]", "", text)


_HEADER_LOOKUP = {_header_key(h): canonical for canonical, names in COLUMNS.items() for h in names}
HEADER_SEARCH_ROWS = 10
MAX_UNPACKED_XLSX = 64 * 1024 * 1024


def _known_columns(texts: list[str]) -> int:
    return len({_HEADER_LOOKUP[k] for k in map(_header_key, texts) if k in _HEADER_LOOKUP})


# ---------------------------------------------------------------- reading the file


@dataclass
class Table:
    """A file's data rows: (line as the school sees it, values by canonical column)."""

    headers: dict[str, str]  # canonical column -> the header as written in the file
    rows: list[tuple[int, dict[str, Any]]]
    ignored_columns: list[str] = field(default_factory=list)


async def read_upload(file: UploadFile, *, limit: int) -> bytes:
    chunks, size = [], 0
    while chunk := await file.read(65536):
        size += len(chunk)
        if size > limit:
            raise ProblemError("import_too_large", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def read_table(data: bytes, *, max_rows: int) -> Table:
    """The header and data rows of a CSV or XLSX file; problems for unreadable files."""
    if not data.strip():
        raise ProblemError("import_unreadable", reason="the file is empty")
    lines = _xlsx_lines(data) if data[:4] == b"PK\x03\x04" else _csv_lines(data)
    header: list[str] | None = None
    before_header: list[list[str]] = []
    rows: list[tuple[int, list[Any]]] = []
    for line, values in lines:
        if all(_blank(v) for v in values):
            continue
        if header is None:
            texts = ["" if v is None else str(v) for v in values]
            # Schools often put a title ("2026年新生名单") above the header: the header is the
            # first row that names at least three known columns.
            if _known_columns(texts) >= 3:
                header = texts
            elif len(before_header) < HEADER_SEARCH_ROWS:
                before_header.append(texts)
            else:
                break
            continue
        if len(rows) >= max_rows:
            raise ProblemError("import_too_many_rows", limit=max_rows)
        rows.append((line, values))
    if header is None:
        if not before_header:
            raise ProblemError("import_unreadable", reason="no header row")
        header = before_header[0]
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    ignored: list[str] = []
    for i, text in enumerate(header):
        canonical = _HEADER_LOOKUP.get(_header_key(text))
        if canonical is None or canonical in positions:
            if text.strip():
                ignored.append(text.strip())
            continue
        positions[canonical] = i
        headers[canonical] = text.strip()
    table_rows = [
        (line, {c: values[i] if i < len(values) else None for c, i in positions.items()}) for line, values in rows
    ]
    return Table(headers=headers, rows=table_rows, ignored_columns=ignored)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # GB18030 is a superset of GBK and GB2312: what Excel writes for "CSV" on a Chinese Windows.
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ProblemError("import_unreadable", reason="the text is neither UTF-8 nor GBK") from None


def _csv_lines(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    try:
        text = _decode(data)
    except UnicodeDecodeError:
        raise ProblemError("import_unreadable", reason="the text encoding is broken") from None
    if "\x00" in text:
        raise ProblemError("import_unreadable", reason="not a text file")
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", "\t", ";"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        for record in reader:
            yield start, record
            # A quoted field may span lines: the next record starts after this one's last line.
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ProblemError("import_unreadable", reason=f"line {reader.line_num}: {exc}") from None


def _xlsx_lines(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        # A small upload may unpack into gigabytes (a "zip bomb"); a real student list does not.
        if unpacked > MAX_UNPACKED_XLSX:
            raise ProblemError("import_unreadable", reason=f"the workbook unpacks to more than {MAX_UNPACKED_XLSX} bytes")
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise ProblemError("import_unreadable", reason=f"not a readable XLSX workbook ({type(exc).__name__})") from None
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(values)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise ProblemError("import_unreadable", reason=f"the workbook is damaged ({type(exc).__name__})") from None
    finally:
        workbook.close()


# ---------------------------------------------------------------- checking rows


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


@dataclass(frozen=True)
class Problem:
    line: int
    column: str  # canonical
    code: str
    params: tuple[tuple[str, Any], ...] = ()


def _text(value: Any) -> str | None:
    """A cell as text: Excel numbers without their '.0', everything stripped; None when empty."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    return text or None


def check_rows(table: Table, *, today: date, default_school: str | None) -> tuple[list[Row], list[Problem]]:
    """Every check that needs only the file: values, formats, duplicates within the file."""
    good: list[Row] = []
    problems: list[Problem] = []
    first_line_of: dict[tuple[str, str], int] = {}
    for line, values in table.rows:
        found: list[Problem] = []

        def bad(column: str, code: str, **params: Any) -> None:
            found.append(Problem(line, column, code, tuple(params.items())))

        text = {c: _text(values.get(c)) for c in COLUMNS}
        for column in REQUIRED:
            if text[column] is None:
                bad(column, "grade_missing" if column == "grade" else "row_value_missing")
        for column, limit in MAX_LENGTH.items():
            if text[column] is not None and len(text[column]) > limit:
                bad(column, "row_value_too_long", limit=limit)
        resident = None
        if text["id_number"] is not None:
            try:
                resident = parse_resident_id(text["id_number"], today=today)
            except InvalidValue as exc:
                bad("id_number", exc.code)
        grade = None
        if text["grade"] is not None:
            try:
                grade = parse_grade(values.get("grade"))
            except InvalidValue as exc:
                bad("grade", exc.code)
        guardian_phone = None
        if text["guardian_phone"] is not None:
            try:
                guardian_phone = normalise_phone(text["guardian_phone"])
            except InvalidValue as exc:
                bad("guardian_phone", exc.code)
        phone = None
        if text["phone"] is not None:
            try:
                phone = normalise_phone(text["phone"])
            except InvalidValue as exc:
                bad("phone", exc.code)
        if phone is not None and phone == guardian_phone:
            bad("guardian_phone", "guardian_is_student")
        school = text["school"] or default_school
        if school is None:
            bad("school", "row_value_missing")
        username = text["username"]
        if username is not None and not _USERNAME.match(username):
            bad("username", "row_value_too_long" if len(username) > 100 else "username_invalid")
        for column, key in (("id_number", resident.number if resident else None), ("username", username and username.lower())):
            if key is None:
                continue
            earlier = first_line_of.setdefault((column, key), line)
            if earlier != line:
                bad(column, "duplicate_in_file", line=earlier)
        if found:
            problems.extend(found)
            continue
        assert resident is not None and grade is not None and guardian_phone is not None
        good.append(
            Row(
                line=line, name=text["name"], id_number=resident.number, birth_date=resident.birth_date,  # type: ignore[arg-type]
                school=school, grade=grade, guardian_name=text["guardian_name"],  # type: ignore[arg-type]
                guardian_phone=guardian_phone, relation=parse_relation(text["relation"]), username=username,
                phone=phone, address=text["address"],
            )
        )
    return good, problems


# ---------------------------------------------------------------- the import


def _row_error(problem: Problem, table: Table, lang: str) -> RowError:
    entry = CATALOGUE[problem.code]
    column = table.headers.get(problem.column) or COLUMNS[problem.column][0]
    params = {"column": column, **dict(problem.params)}
    en, zh = _fill(entry.en, params), _fill(entry.zh, params)
    return RowError(
        loc=["file", problem.line, column], field=column, line=problem.line, code=problem.code, type=problem.code,
        message=zh if lang == "zh" else en, message_en=en, message_zh=zh,
    )


def _fill(template: str, params: dict[str, Any]) -> str:
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


def _username(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


async def import_students(
    *,
    session: AsyncSession,
    principal: Principal,
    cipher: FieldCipher,
    data: bytes,
    filename: str,
    mode: ImportMode,
    default_school_id: uuid.UUID | None,
    max_rows: int,
    lang: str,
) -> ImportReport:
    on = service.today()
    coordinator_school = None
    if not principal.has_role("admin"):
        # A coordinator imports into their own school only, whatever the file or the query says.
        coordinator_school = repo.as_uuid(principal.school_id)
        if coordinator_school is None:
            raise ProblemError("forbidden", roles="admin, coordinator of a school")
        default_school_id = default_school_id or coordinator_school
    default_school = None
    if default_school_id is not None:
        school = await repo.get_school(session, default_school_id)
        if school is None:
            raise ProblemError("school_not_found", school_id=default_school_id)
        default_school = school.name

    table = read_table(data, max_rows=max_rows)
    missing = [c for c in REQUIRED if c not in table.headers]
    if "school" not in table.headers and default_school is None:
        missing.append("school")
    if missing:
        raise ProblemError("import_missing_columns", columns=", ".join(f"{COLUMNS[c][0]} ({c})" for c in missing))
    if not table.rows:
        raise ProblemError("import_empty")

    rows, problems = check_rows(table, today=on, default_school=default_school)

    # What the database knows, asked once per file rather than once per row.
    schools = await repo.schools_by_names(session, [r.school for r in rows if r.school])
    id_index = {r.line: cipher.blind_index(r.id_number) for r in rows}
    registered = await repo.id_indexes_taken(session, id_index.values())
    taken_usernames = await repo.usernames_taken(session, [r.username for r in rows if r.username])
    phone_index = {r.line: cipher.blind_index(r.guardian_phone, purpose="phone") for r in rows}
    people_by_phone = await repo.users_by_phone_index(session, phone_index.values())

    accepted: list[tuple[Row, uuid.UUID]] = []
    guardian_name_of_phone: dict[str, tuple[str, int]] = {}
    for row in rows:
        found: list[Problem] = []
        school = schools.get(row.school.lower()) if row.school else None
        if school is None or school.disabled:
            found.append(Problem(row.line, "school", "school_unknown"))
        elif coordinator_school is not None and school.id != coordinator_school:
            found.append(Problem(row.line, "school", "school_not_yours"))
        if id_index[row.line] in registered:
            found.append(Problem(row.line, "id_number", "student_exists"))
        if row.username and row.username.lower() in taken_usernames:
            found.append(Problem(row.line, "username", "username_taken", (("username", row.username),)))
        existing = [u for u in people_by_phone.get(phone_index[row.line], []) if "guardian" in u.roles]
        if existing and not any(_same_name(u.display_name, row.guardian_name) for u in existing):
            found.append(Problem(row.line, "guardian_phone", "guardian_mismatch"))
        seen = guardian_name_of_phone.setdefault(row.guardian_phone, (row.guardian_name, row.line))
        if not _same_name(seen[0], row.guardian_name):
            found.append(Problem(row.line, "guardian_phone", "guardian_mismatch"))
        if found:
            problems.extend(found)
        else:
            accepted.append((row, school.id))  # type: ignore[union-attr]

    problems.sort(key=lambda p: (p.line, list(COLUMNS).index(p.column)))
    errors = [_row_error(p, table, lang) for p in problems]
    bad_lines = {p.line for p in problems}
    if errors and mode is ImportMode.all_or_nothing:
        raise ProblemError("import_rejected", count=len(bad_lines), errors=[e.model_dump() for e in errors])

    students: list[ImportedStudent] = []
    guardians: dict[str, tuple[UserAccount, bool]] = {}
    new_rows: list[Any] = []
    links: list[GuardianLink] = []
    for row, school_id in accepted:
        student = service.new_user(
            username=row.username or _username("stu"),
            display_name=row.name,
            roles=["student"],
            school_id=school_id,
            grade=row.grade,
            personal=service.PersonalInput(id_number=row.id_number, phone=row.phone, address=row.address),
            cipher=cipher,
            on=on,
        )
        new_rows.append(student)
        guardian, created = guardians.get(row.guardian_phone) or (None, False)
        if guardian is None:
            match = next(
                (u for u in people_by_phone.get(phone_index[row.line], [])
                 if "guardian" in u.roles and _same_name(u.display_name, row.guardian_name)),
                None,
            )
            if match is not None:
                guardian, created = match, False
            else:
                guardian = service.new_user(
                    username=_username("gdn"),
                    display_name=row.guardian_name,
                    roles=["guardian"],
                    personal=service.PersonalInput(phone=row.guardian_phone),
                    cipher=cipher,
                    on=on,
                )
                created = True
                new_rows.append(guardian)
            guardians[row.guardian_phone] = (guardian, created)
        links.append(GuardianLink(guardian_id=guardian.id, student_id=student.id, relation=row.relation))
        students.append(
            ImportedStudent(
                line=row.line, student_id=student.id, username=student.username, guardian_id=guardian.id,
                guardian_username=guardian.username, guardian_created=created,
            )
        )
    if new_rows:
        session.add_all(new_rows)
        # Users first, then links: the links' foreign keys need the users' rows.
        await service.flush_unique(session, "id_number_taken")
        session.add_all(links)
        await session.flush()
    return ImportReport(
        mode=mode,
        rows=len(table.rows),
        imported=len(students),
        rejected=len(bad_lines),
        students=students,
        guardians_created=sum(1 for _, created in guardians.values() if created),
        guardians_linked_existing=sum(1 for _, created in guardians.values() if not created),
        errors=errors,
        ignored_columns=table.ignored_columns,
    )


def _same_name(a: str, b: str) -> bool:
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", a)).lower() == re.sub(r"\s", "", unicodedata.normalize("NFKC", b)).lower()
