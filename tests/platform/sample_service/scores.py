"""The sample service's score upload: a spreadsheet read the way a domain service reads one (shared/sheets).

A teacher's file of scores, one row per student and subject, in a CSV or an XLSX with English
or Chinese headers. `mode=all` (default) refuses the whole file when a row is bad; `mode=valid`
takes the good rows and reports the bad ones.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import File, Query, Request, UploadFile
from pydantic import BaseModel

from shared.auth import Public
from shared.problems import language, problem_responses
from shared.routes import UPLOAD_ENVELOPE, APIRouter, body_limit
from shared.sheets import SHEET_PROBLEMS, Column, Columns, RowError, Sheet, cells, in_worker, read_upload
from shared.workers import worker_pool

# The sample's clock for birth dates in ID numbers; a real service passes its own today.
TODAY = date(2026, 12, 1)
SUBJECTS = {"数学": "math", "math": "math", "物理": "physics", "physics": "physics", "化学": "chemistry", "chemistry": "chemistry"}


def score_columns(today: date) -> Columns:
    return Columns(
        Column(
            "id_number", en=("ID number", "id"), zh=("身份证号", "身份证号码"), required=True,
            parse=cells.resident_id(today=today), unique=lambda resident: resident.number,
        ),
        Column("subject", en=("subject",), zh=("学科", "科目"), required=True, parse=cells.one_of(SUBJECTS)),
        Column("score", en=("score", "points"), zh=("成绩", "分数"), required=True, parse=cells.number(minimum=0, maximum=150)),
        Column("sat_on", en=("date", "exam date"), zh=("考试日期", "日期"), parse=cells.day(latest=today)),
        Column("remark", en=("remark", "note"), zh=("备注",), max_length=50),
    )


def read_scores(data: bytes, *, today: date, max_rows: int, lang: str) -> Sheet:
    """In a worker process: the file's rows, checked."""
    return score_columns(today).read(data, max_rows=max_rows, lang=lang)


class Score(BaseModel):
    line: int
    id_number_tail: str
    subject: str
    score: Decimal
    sat_on: date | None
    remark: str | None


class ScoresReport(BaseModel):
    rows: int
    accepted: list[Score]
    errors: list[RowError]
    ignored_columns: list[str]


scores = APIRouter(prefix="/scores", tags=["scores"], dependencies=[Public], lifespan=worker_pool())


@scores.post(
    "", response_model=ScoresReport, responses=problem_responses("sheet_rejected", *SHEET_PROBLEMS),
    summary="Upload a file of scores (CSV or XLSX)",
)
@body_limit(lambda settings: settings.scores_max_bytes + UPLOAD_ENVELOPE)
async def upload_scores(
    request: Request,
    file: Annotated[UploadFile, File(description="The CSV or XLSX file, one row per student and subject.")],
    mode: Annotated[Literal["all", "valid"], Query()] = "all",
) -> ScoresReport:
    settings = request.app.state.settings
    data = await read_upload(file, limit=settings.scores_max_bytes)
    sheet: Sheet = await in_worker(
        request.app.state.workers, read_scores, data, today=TODAY, max_rows=settings.scores_max_rows,
        lang=language(request.headers.get("accept-language")),
    )
    if mode == "all":
        sheet.refuse_if_errors()
    return ScoresReport(
        rows=sheet.lines,
        accepted=[
            Score(
                line=row.line, id_number_tail=row["id_number"].number[-4:], subject=row["subject"], score=row["score"],
                sat_on=row["sat_on"], remark=row["remark"],
            )
            for row in sheet.rows
        ],
        errors=sheet.errors, ignored_columns=sheet.ignored_columns,
    )
