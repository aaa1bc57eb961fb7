"""The scores sheet staff upload: one row per candidate, run in a worker process (shared/workers.py).

Columns: the candidate's id (as the roster download gives it), the score, the state (blank
means scored; 缺考 / absent, 免考 / exempt), a remark. Checks that need no database are
here, with the ids of the campaign's candidates still in the running, which the route reads
first: nothing of a file with one bad row is taken.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from shared.problems import InvalidValue
from shared.sheets import Column, Columns, Sheet, cells

STATES = {
    "scored": "scored", "已评分": "scored", "正常": "scored",
    "absent": "absent", "缺考": "absent", "缺席": "absent",
    "exempt": "exempt", "免考": "exempt", "免试": "exempt",
}


def _candidate_id(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(cells.text(value) or "")
    except ValueError:
        raise InvalidValue("selection_row_candidate_invalid", "not a candidate id") from None


def score_columns(minimum: Decimal, maximum: Decimal) -> Columns:
    return Columns(
        Column("candidate_id", en=("candidate", "candidate id"), zh=("候选人编号", "考生编号", "编号"), required=True,
               parse=_candidate_id, unique=True),
        Column("score", en=("result", "points"), zh=("成绩", "分数", "得分"), parse=cells.number(minimum=minimum, maximum=maximum)),
        Column("state", en=("status",), zh=("状态", "考试状态"), parse=cells.one_of(STATES)),
        Column("remark", en=("note", "comment"), zh=("备注",), max_length=200),
        header_min_known=2,
    )


def read_scores(
    data: bytes, *, minimum: Decimal, maximum: Decimal, candidates: frozenset[uuid.UUID], max_rows: int, lang: str
) -> Sheet:
    """The file's rows checked; `candidates` are the campaign's candidates still in the running."""
    columns = score_columns(minimum, maximum)
    table = columns.table(data, max_rows=max_rows)
    columns.require(table)
    rows = columns.check(table)
    for row in rows:
        if row["candidate_id"] is not None and row["candidate_id"] not in candidates:
            row.bad("candidate_id", "selection_row_candidate_unknown")
        state = row["state"] or "scored"
        row.values["state"] = state
        if state == "scored" and row["score"] is None and not any(p.column == "score" for p in row.problems):
            row.bad("score", "selection_row_score_missing")
        if state != "scored" and row["score"] is not None:
            row.bad("score", "selection_row_score_with_state", state=state)
    problems = [p for row in rows for p in row.problems]
    return Sheet(
        rows=[r for r in rows if r.ok], errors=table.layout.errors(problems, lang), lines=len(table.rows),
        headers=table.headers, ignored_columns=table.ignored_columns,
    )
