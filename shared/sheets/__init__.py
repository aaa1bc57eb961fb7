"""Reading a spreadsheet people upload (CSV or XLSX) into checked rows, or errors by line in English and Chinese.

A service declares its columns: each with its name, the headers people write for it in
English and Chinese, whether it is required, and how its cells are read (shared/sheets/cells.py).
It gets back the rows that passed, each with its line, and an error for every bad cell,
naming the line as the spreadsheet shows it, the column as the file's header writes it, a
stable code and the message in both languages. A school's file often has a title above the
header: the header is the first row that names enough known columns. Files that cannot be
read at all are refused as a whole (shared/sheets/files.py says which and why).

Selection, taking a campaign's scores:

    from shared.sheets import Column, Columns, Sheet, cells, in_worker, read_upload

    def score_columns(today: date) -> Columns:
        return Columns(
            Column("id_number", en=("ID number",), zh=("身份证号", "身份证号码"), required=True,
                   parse=cells.resident_id(today=today), unique=lambda resident: resident.number),
            Column("subject", en=("subject",), zh=("学科", "科目"), required=True,
                   parse=cells.one_of({"数学": "math", "math": "math", "物理": "physics", "physics": "physics"})),
            Column("score", en=("score",), zh=("成绩", "分数"), required=True, parse=cells.number(minimum=0, maximum=150)),
            Column("remark", en=("remark", "note"), zh=("备注",), max_length=200),
        )

    def read_scores(data: bytes, *, today: date, max_rows: int, lang: str) -> Sheet:
        return score_columns(today).read(data, max_rows=max_rows, lang=lang)

    @router.post("/campaigns/{campaign_id}/scores", responses=problem_responses(*SHEET_PROBLEMS, ...))
    @body_limit(lambda settings: settings.scores_max_bytes + UPLOAD_ENVELOPE)  # shared/routes.py
    async def upload_scores(..., file: Annotated[UploadFile, File()], request: Request) -> ScoresReport:
        data = await read_upload(file, limit=settings.scores_max_bytes)
        # In a worker process (shared/workers.py): openpyxl holds the GIL for seconds on a big workbook.
        sheet = await in_worker(request.app.state.workers, read_scores, data, today=..., max_rows=2000,
                                lang=language(request.headers.get("accept-language")))
        sheet.refuse_if_errors()  # 422 sheet_rejected, its `errors` by line: nothing is taken from a bad file
        for row in sheet.rows:
            ...  # row.line, row["id_number"].number, row["subject"], row["score"] (a Decimal)

A column's parser raises `InvalidValue` (shared/problems.py) with a catalogue code for a value
it refuses; a check across columns adds to the row itself (`row.bad("score", "...")`) between
`check` and `Layout.errors`, as services/gateway/identity/sheets.py does for its students. The
column set is built in the worker that reads the file (its parsers are closures, which do not
pickle); what comes back (`Sheet`, rows of plain values) does.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from shared.problems import InvalidValue, ProblemError, detail
from shared.sheets import cells
from shared.sheets.files import MAX_COLUMNS, MAX_UNPACKED_XLSX, lines

if TYPE_CHECKING:
    from fastapi import UploadFile

    from shared.workers import WorkerPool

__all__ = [
    "MAX_COLUMNS", "MAX_UNPACKED_XLSX", "SHEET_PROBLEMS", "CellProblem", "Column", "Columns", "Layout", "Row",
    "RowError", "Sheet", "Table", "cells", "in_worker", "read_upload",
]

# What a route that reads an upload answers, besides its own rows' codes.
SHEET_PROBLEMS = (
    "import_unreadable", "import_missing_columns", "import_too_large", "import_too_many_rows", "import_empty",
)
# Rows above the header a file may have (a title, a date, blank lines) before it is taken to have none.
HEADER_SEARCH_ROWS = 10


def header_key(text: str) -> str:
    """How a header is compared: "身份证号（18位）*", "Guardian Phone" and "guardian_phone" reduce to their bare words."""
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = re.sub(r"\(.*?\)", "", text)
    return re.sub(r"[\s_\-*:：]", "", text)


@dataclass(frozen=True)
class Column:
    """One column a file may have.

    `name` is how the code and the errors' `loc` call it (and a header the file may use too);
    `en` and `zh` the headers people write for it, the first of `zh` (else of `en`) naming it
    where the file has no header for it. An empty cell is `default`, or a `missing_code` error
    when the column is `required` (and the file must then have its header, unless there is a
    default). A filled cell longer than `max_length` is `row_value_too_long`; otherwise
    `parse` reads it (a plain-text column refuses only formulas, `cells.plain_text`). With
    `unique` (True, or a function of the parsed value giving its key), a value a second line
    repeats is `duplicate_in_file`, naming the first.
    """

    name: str
    en: tuple[str, ...] = ()
    zh: tuple[str, ...] = ()
    required: bool = False
    parse: Callable[[Any], Any] | None = None
    max_length: int | None = None
    unique: bool | Callable[[Any], Hashable] = False
    default: Any = None
    missing_code: str = "row_value_missing"

    @property
    def label(self) -> str:
        return (self.zh or self.en or (self.name,))[0]

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.name, *self.en, *self.zh)


@dataclass(frozen=True)
class CellProblem:
    """Why one cell of one line is refused: a catalogue code and the params of its message."""

    line: int
    column: str
    code: str
    params: tuple[tuple[str, Any], ...] = ()


class RowError(BaseModel):
    """One reason a row was rejected. `line` is the line (CSV) or row (XLSX) number as the file shows it."""

    loc: list[str | int] = Field(description='["file", line, column]')
    field: str = Field(description="The column as named in the file's header.")
    line: int
    code: str = Field(description="Stable reason code (see the catalogue), e.g. `id_number_checksum`.")
    type: str = Field(description="Same as `code`, for clients that read validation errors.")
    message: str = Field(description="In the caller's language (Accept-Language).")
    message_en: str
    message_zh: str


@dataclass(frozen=True)
class Layout:
    """How a file names a column set's columns, and their order: what an error needs to say where it is."""

    labels: dict[str, str]  # column -> its header as the file writes it, else its label
    order: tuple[str, ...]

    def errors(self, problems: Iterable[CellProblem], lang: str) -> list[RowError]:
        """The errors of `problems`, by line, then in the columns' order, with messages in both languages."""
        position = {name: i for i, name in enumerate(self.order)}
        ordered = sorted(problems, key=lambda p: (p.line, position.get(p.column, len(position))))
        return [self._error(p, lang) for p in ordered]

    def _error(self, problem: CellProblem, lang: str) -> RowError:
        column = self.labels.get(problem.column, problem.column)
        params = {"column": column, **dict(problem.params)}
        en, zh = detail(problem.code, "en", **params), detail(problem.code, "zh", **params)
        return RowError(
            loc=["file", problem.line, column], field=column, line=problem.line, code=problem.code, type=problem.code,
            message=zh if lang == "zh" else en, message_en=en, message_zh=zh,
        )


@dataclass
class Table:
    """A file's data rows as written: (line, raw cell by column name) for each non-blank line under the header."""

    headers: dict[str, str]  # column -> the header as written in the file
    rows: list[tuple[int, dict[str, Any]]]
    layout: Layout
    ignored_columns: list[str] = field(default_factory=list)


@dataclass
class Row:
    """A data row, checked: each column's parsed value (None when empty or refused) and what was refused."""

    line: int
    values: dict[str, Any]
    problems: list[CellProblem] = field(default_factory=list)

    def __getitem__(self, column: str) -> Any:
        return self.values[column]

    @property
    def ok(self) -> bool:
        return not self.problems

    def bad(self, column: str, code: str, **params: Any) -> None:
        self.problems.append(CellProblem(self.line, column, code, tuple(params.items())))


@dataclass
class Sheet:
    """What `Columns.read` made of a file: the rows that passed, and an error for each refused cell."""

    rows: list[Row]
    errors: list[RowError]
    lines: int  # data rows in the file (header and blank lines not counted)
    headers: dict[str, str]
    ignored_columns: list[str]

    @property
    def rejected_lines(self) -> int:
        return len({e.line for e in self.errors})

    def refuse_if_errors(self) -> None:
        """Refuse the whole file (422 `sheet_rejected`, the errors by line) when any row is bad."""
        if self.errors:
            raise ProblemError(
                "sheet_rejected", count=self.rejected_lines, errors=[e.model_dump() for e in self.errors]
            )


class Columns:
    """A column set: reads files into `Table`s, checks them into `Row`s, and reads them whole (`read`)."""

    def __init__(self, *columns: Column, header_min_known: int | None = None) -> None:
        self.columns = columns
        self.by_name = {c.name: c for c in columns}
        if len(self.by_name) != len(columns):
            raise ValueError("two columns have one name")
        self.lookup: dict[str, str] = {}
        for column in columns:
            for header in column.headers:
                key = header_key(header)
                other = self.lookup.setdefault(key, column.name)
                if other != column.name:
                    raise ValueError(f"the header {header!r} would name both {other} and {column.name}")
        # The header is the first row naming this many known columns (a title above it names fewer).
        self.header_min_known = header_min_known or min(3, len(columns))

    def __iter__(self):
        return iter(self.columns)

    def __getitem__(self, name: str) -> Column:
        return self.by_name[name]

    def table(self, data: bytes, *, max_rows: int, max_unpacked: int = MAX_UNPACKED_XLSX) -> Table:
        """The header and data rows of a CSV or XLSX file (problems for unreadable files and too many rows)."""
        header: list[str] | None = None
        before_header: list[list[str]] = []
        rows: list[tuple[int, list[Any]]] = []
        for line, values in lines(data, max_unpacked=max_unpacked):
            if _blank_row(values):
                continue
            if header is None:
                texts = ["" if v is None else str(v) for v in values]
                if self._known(texts) >= self.header_min_known:
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
            name = self.lookup.get(header_key(text))
            if name is None or name in positions:
                if text.strip():
                    ignored.append(text.strip())
                continue
            positions[name] = i
            headers[name] = text.strip()
        layout = Layout(
            labels={c.name: headers.get(c.name, c.label) for c in self.columns}, order=tuple(c.name for c in self.columns)
        )
        table_rows = [
            (line, {name: values[i] if i < len(values) else None for name, i in positions.items()}) for line, values in rows
        ]
        return Table(headers=headers, rows=table_rows, layout=layout, ignored_columns=ignored)

    def missing(self, table: Table) -> list[Column]:
        """The required columns the file has no header for (and no default stands in for)."""
        return [c for c in self.columns if c.required and c.default is None and c.name not in table.headers]

    def require(self, table: Table) -> None:
        """Refuse a file without a required column's header, or without a data row."""
        missing = self.missing(table)
        if missing:
            raise ProblemError("import_missing_columns", columns=", ".join(f"{c.label} ({c.name})" for c in missing))
        if not table.rows:
            raise ProblemError("import_empty")

    def check(self, table: Table) -> list[Row]:
        """Every row, each cell read by its column: required, length, parser, duplicates within the file."""
        unique = [(c.name, c.unique if callable(c.unique) else _same) for c in self.columns if c.unique]
        first_line_of: dict[tuple[str, Hashable], int] = {}
        checked = []
        for line, raw in table.rows:
            row = Row(line=line, values={})
            for column in self.columns:
                row.values[column.name] = _cell(column, raw.get(column.name), row)
            for name, key_of in unique:
                value = row.values[name]
                if value is None:
                    continue
                earlier = first_line_of.setdefault((name, key_of(value)), line)
                if earlier != line:
                    row.bad(name, "duplicate_in_file", line=earlier)
            checked.append(row)
        return checked

    def read(self, data: bytes, *, max_rows: int, lang: str = "en", max_unpacked: int = MAX_UNPACKED_XLSX) -> Sheet:
        """The whole of it: the file's rows checked, the good ones and the errors (problems for a file refused whole)."""
        table = self.table(data, max_rows=max_rows, max_unpacked=max_unpacked)
        self.require(table)
        rows = self.check(table)
        return Sheet(
            rows=[r for r in rows if r.ok],
            errors=table.layout.errors((p for r in rows for p in r.problems), lang),
            lines=len(table.rows), headers=table.headers, ignored_columns=table.ignored_columns,
        )

    def _known(self, texts: list[str]) -> int:
        return len({self.lookup[k] for k in map(header_key, texts) if k in self.lookup})


def _same(value: Any) -> Any:
    return value


def _blank_row(values: list[Any]) -> bool:
    # The count runs in C: a sheet's thousands of padded empty rows cost nothing in Python.
    return values.count(None) == len(values) or all(cells.blank(v) for v in values)


def _cell(column: Column, value: Any, row: Row) -> Any:
    if cells.blank(value):
        if column.default is not None:
            return column.default
        if column.required:
            row.bad(column.name, column.missing_code)
        return None
    if column.max_length is not None and len(cells.text(value) or "") > column.max_length:
        row.bad(column.name, "row_value_too_long", limit=column.max_length)
        return None
    try:
        return (column.parse or cells.plain_text)(value)
    except InvalidValue as exc:
        row.bad(column.name, exc.code, **exc.params)
        return None


# ---------------------------------------------------------------- the upload and the worker


async def read_upload(file: UploadFile, *, limit: int) -> bytes:
    """The uploaded file's bytes, refused with 413 `import_too_large` past `limit`."""
    chunks, size = [], 0
    while chunk := await file.read(65536):
        size += len(chunk)
        if size > limit:
            raise ProblemError("import_too_large", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def in_worker(pool: WorkerPool, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` in a worker process of `pool`; the problems it raises are raised here,
    and a file that takes its reader's process down is `import_unreadable`."""
    from shared.workers import WorkerFailed

    try:
        return await pool.run(fn, *args, **kwargs)
    except WorkerFailed:
        raise ProblemError(
            "import_unreadable", reason="reading it stopped the reader; if this happens again, the file is damaged"
        ) from None
