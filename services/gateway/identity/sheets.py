"""A school's student list, from the file's bytes to the rows to write: reading, checking, sealing, deciding.

Plain CPU work with no I/O, in two steps that run in a worker process (`workers.py`), so
parsing a workbook (openpyxl holds the GIL throughout), encrypting thousands of ID numbers
and writing out the report never stall the gateway's event loop. Between the steps the
import asks the database what `read` says it must (`Questions`); `plan` decides with the
answers. What the loop receives is small or opaque: the questions, the rows to write as COPY
text, the report as JSON. No plaintext ID number or phone leaves the worker.
"""

from __future__ import annotations

import csv
import io
import pickle
import re
import secrets
import unicodedata
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.gateway.crypto import FieldCipher
from services.gateway.identity.schemas import USERNAME_PATTERN, ImportedStudent, ImportMode, ImportReport, RowError
from services.gateway.identity.sealing import Sealed, seal
from services.gateway.identity.validation import (
    InvalidValue,
    normalise_phone,
    parse_grade,
    parse_relation,
    parse_resident_id,
)
from shared.catalogue import CATALOGUE
from shared.problems import ProblemError

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


def read_table(data: bytes, *, max_rows: int, max_unpacked: int = MAX_UNPACKED_XLSX) -> Table:
    """The header and data rows of a CSV or XLSX file; problems for unreadable files."""
    if not data.strip():
        raise ProblemError("import_unreadable", reason="the file is empty")
    lines = _xlsx_lines(data, max_unpacked) if data[:4] == b"PK\x03\x04" else _csv_lines(data)
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


def _xlsx_lines(data: bytes, max_unpacked: int) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        # A small upload may unpack into gigabytes (a "zip bomb"); a real student list does not.
        if unpacked > max_unpacked:
            raise ProblemError("import_unreadable", reason=f"the workbook unpacks to more than {max_unpacked} bytes")
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
        def parsed(column: str, parse: Any, raw: Any) -> Any:
            """`parse(raw)` for a filled cell, or None (an empty one, or one refused with its reason)."""
            if text[column] is None:
                return None
            try:
                return parse(raw)
            except InvalidValue as exc:
                bad(column, exc.code)
                return None

        resident = parsed("id_number", lambda v: parse_resident_id(v, today=today), text["id_number"])
        grade = parsed("grade", parse_grade, values.get("grade"))
        guardian_phone = parsed("guardian_phone", normalise_phone, text["guardian_phone"])
        phone = parsed("phone", normalise_phone, text["phone"])
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
    headers: dict[str, str]
    ignored_columns: list[str]
    rows: int  # data rows in the file
    checked: list[SheetRow]
    problems: list[Problem]
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


@dataclass(frozen=True)
class Refusal:
    """A problem that refuses the whole file, carried back from the worker process."""

    code: str
    params: dict[str, Any]
    errors: list[dict[str, Any]] | None = None

    def problem(self) -> ProblemError:
        return ProblemError(self.code, errors=self.errors, **self.params)


def read(
    data: bytes, *, cipher: FieldCipher, today: date, default_school: str | None, max_rows: int,
    max_unpacked: int = MAX_UNPACKED_XLSX,
) -> Read | Refusal:
    """Step one: read and check the file, seal each checked row's personal data, and say what
    the database must be asked."""
    try:
        table = read_table(data, max_rows=max_rows, max_unpacked=max_unpacked)
    except ProblemError as exc:
        return Refusal(exc.code, exc.params)
    missing = [c for c in REQUIRED if c not in table.headers]
    if "school" not in table.headers and default_school is None:
        missing.append("school")
    if missing:
        return Refusal("import_missing_columns", {"columns": ", ".join(f"{COLUMNS[c][0]} ({c})" for c in missing)})
    if not table.rows:
        return Refusal("import_empty", {})
    rows, problems = check_rows(table, today=today, default_school=default_school)
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
        headers=table.headers, ignored_columns=table.ignored_columns, rows=len(table.rows), checked=checked,
        problems=problems, guardians=guardians,
    )
    questions = Questions(
        schools=sorted({r.school for r in checked if r.school}),
        id_indexes=[r.student.id_number_index for r in checked if r.student.id_number_index],
        usernames=[r.username for r in checked if r.username],
        guardian_phones=list(guardians),
    )
    return Read(questions=questions, sheet=pickle.dumps(sheet, protocol=pickle.HIGHEST_PROTOCOL))


def plan(sheet_blob: bytes, answers: Answers, *, mode: ImportMode, lang: str) -> Plan | Refusal:
    """Step two: with the database's answers, decide each row, and write out the new accounts,
    the guardian links and the report (or refuse the file)."""
    sheet: Sheet = pickle.loads(sheet_blob)
    problems = list(sheet.problems)
    accepted: list[tuple[SheetRow, uuid.UUID]] = []
    guardian_name_of_phone: dict[str, str] = {}
    for row in sheet.checked:
        found: list[Problem] = []
        school = answers.schools.get(row.school.lower()) if row.school else None
        if school is None or school[1]:
            found.append(Problem(row.line, "school", "school_unknown"))
        elif answers.coordinator_school is not None and school[0] != answers.coordinator_school:
            found.append(Problem(row.line, "school", "school_not_yours"))
        if row.student.id_number_index in answers.registered:
            found.append(Problem(row.line, "id_number", "student_exists"))
        if row.username and row.username.lower() in answers.taken_usernames:
            found.append(Problem(row.line, "username", "username_taken", (("username", row.username),)))
        existing = answers.guardians.get(row.guardian_phone_index, [])
        if existing and not any(same_name(name, row.guardian_name) for _, _, name in existing):
            found.append(Problem(row.line, "guardian_phone", "guardian_mismatch"))
        if not same_name(guardian_name_of_phone.setdefault(row.guardian_phone_index, row.guardian_name), row.guardian_name):
            found.append(Problem(row.line, "guardian_phone", "guardian_mismatch"))
        if found:
            problems.extend(found)
        else:
            accepted.append((row, school[0]))  # type: ignore[index]

    problems.sort(key=lambda p: (p.line, list(COLUMNS).index(p.column)))
    errors = [_row_error(p, sheet, lang) for p in problems]
    bad_lines = {p.line for p in problems}
    if errors and mode is ImportMode.all_or_nothing:
        return Refusal("import_rejected", {"count": len(bad_lines)}, errors=[e.model_dump() for e in errors])

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


def _row_error(problem: Problem, sheet: Sheet, lang: str) -> RowError:
    entry = CATALOGUE[problem.code]
    column = sheet.headers.get(problem.column) or COLUMNS[problem.column][0]
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
