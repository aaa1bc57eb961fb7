"""Reading uploaded spreadsheets (shared/sheets) as a domain service does: a declared column set, CSV and XLSX,
errors by line in English and Chinese, and files made to hurt: NUL bytes, wrong encodings, bombs, formulas."""

from __future__ import annotations

import io
import pickle
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import Workbook

from shared.problems import InvalidValue, ProblemError
from shared.sheets import Column, Columns, cells
from shared.sheets.files import MAX_COLUMNS
from tests.identity.factories import bad_checksum, id_number
from tests.platform.conftest import assert_problem
from tests.platform.sample_service.scores import TODAY, read_scores, score_columns

HEADER = "id_number,subject,score"


def csv_file(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


def xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def read(data: bytes, *, max_rows: int = 100, lang: str = "en"):
    return read_scores(data, today=TODAY, max_rows=max_rows, lang=lang)


def refused(data: bytes, **kwargs) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        read(data, **kwargs)
    return caught.value


A, B, C = id_number(date(2012, 3, 1)), id_number(date(2011, 4, 2)), id_number(date(2010, 5, 3))


# ---------------------------------------------------------------- the rows, CSV and XLSX


def test_a_csv_of_scores_gives_each_row_its_parsed_values_and_line():
    sheet = read(csv_file("id_number,subject,score,date,remark", f"{A},数学,95.5,2026/11/3,好", "", f"{B},Physics,120,,"))
    assert sheet.errors == [] and sheet.lines == 2
    first, second = sheet.rows
    assert (first.line, first["id_number"].number, first["subject"], first["score"]) == (2, A, "math", Decimal("95.5"))
    assert (first["sat_on"], first["remark"]) == (date(2026, 11, 3), "好")
    assert (second.line, second["subject"], second["score"], second["sat_on"]) == (4, "physics", Decimal(120), None)


def test_an_xlsx_with_chinese_headers_under_a_title_reads_the_same():
    sheet = read(xlsx([
        ["2026 学年数学竞赛成绩"],
        [],
        ["序号", "身份证号码", "科目", "分数", "考试日期"],
        [1, A, "数学", 88, date(2026, 11, 20)],
        [2, B, "化学", 91.5, "2026年11月21日"],
    ]))
    assert sheet.errors == [] and sheet.ignored_columns == ["序号"]
    assert [(r.line, r["subject"], r["score"], r["sat_on"]) for r in sheet.rows] == [
        (4, "math", Decimal(88), date(2026, 11, 20)), (5, "chemistry", Decimal("91.5"), date(2026, 11, 21)),
    ]
    assert sheet.headers == {"id_number": "身份证号码", "subject": "科目", "score": "分数", "sat_on": "考试日期"}


def test_each_bad_cell_is_an_error_naming_its_line_and_the_files_column_in_both_languages():
    sheet = read(csv_file(
        "身份证号,学科,成绩",
        f"{A},数学,95",  # 2 good
        f"{bad_checksum(B)},数学,95",  # 3 checksum
        f"{C},biology,95",  # 4 not a subject
        f"{A},物理,151",  # 5 a duplicate, and out of range
        f"{B},物理,",  # 6 empty score
        f"{id_number(date(2012, 1, 9))},物理,ninety",  # 7 not a number
    ), lang="zh")
    assert [r.line for r in sheet.rows] == [2]
    assert [(e.line, e.field, e.code) for e in sheet.errors] == [
        (3, "身份证号", "id_number_checksum"),
        (4, "学科", "row_choice_invalid"),
        (5, "身份证号", "duplicate_in_file"),
        (5, "成绩", "row_number_out_of_range"),
        (6, "成绩", "row_value_missing"),
        (7, "成绩", "row_number_invalid"),
    ]
    duplicate, out_of_range = sheet.errors[2], sheet.errors[3]
    assert duplicate.loc == ["file", 5, "身份证号"] and "line 2" in duplicate.message_en and "第 2 行" in duplicate.message_zh
    assert out_of_range.message == out_of_range.message_zh == "成绩须在 0 至 150 之间。"
    assert out_of_range.message_en == "成绩 must be between 0 and 150."


def test_a_file_with_bad_rows_is_refused_whole_when_the_caller_says_so():
    sheet = read(csv_file(HEADER, f"{A},数学,95", f"{B},数学,-1"))
    with pytest.raises(ProblemError) as caught:
        sheet.refuse_if_errors()
    assert (caught.value.code, caught.value.status, caught.value.params) == ("sheet_rejected", 422, {"count": 1})
    assert [(e["line"], e["code"]) for e in caught.value.errors] == [(3, "row_number_out_of_range")]
    read(csv_file(HEADER, f"{A},数学,95")).refuse_if_errors()  # a good file passes


def test_missing_columns_and_empty_files_are_refused_with_the_columns_named():
    missing = refused(csv_file("身份证号,备注", f"{A},x"))
    assert missing.code == "import_missing_columns"
    assert missing.params["columns"] == "学科 (subject), 成绩 (score)"
    assert refused(csv_file(HEADER)).code == "import_empty"
    assert refused(b"").code == "import_unreadable"
    assert refused(b"   \n\n").code == "import_unreadable"


def test_what_a_domain_service_reads_comes_back_from_its_worker():
    sheet = read(csv_file(HEADER, f"{A},数学,95", f"{B},数学,x"))
    again = pickle.loads(pickle.dumps(sheet))
    assert again.rows[0]["score"] == Decimal(95) and again.errors == sheet.errors


def test_a_cross_column_rule_adds_to_the_row():
    columns = score_columns(TODAY)
    table = columns.table(csv_file(HEADER, f"{A},物理,140", f"{B},数学,140"), max_rows=10)
    rows = columns.check(table)
    for row in rows:
        if row["subject"] == "physics" and row["score"] > 100:
            row.bad("score", "row_number_out_of_range", minimum=0, maximum=100)
    [error] = table.layout.errors([p for r in rows for p in r.problems], "en")
    assert (error.line, error.field, error.message) == (2, "score", "score must be between 0 and 100.")


def test_two_columns_claiming_one_header_is_a_programming_error():
    with pytest.raises(ValueError):
        Columns(Column("phone", en=("phone",)), Column("guardian_phone", en=("phone",)))
    with pytest.raises(ValueError):
        Columns(Column("score"), Column("score"))


# ---------------------------------------------------------------- cells


@pytest.mark.parametrize(
    "value, expected",
    [(95, Decimal(95)), (95.5, Decimal("95.5")), (0.1, Decimal("0.1")), ("９５", Decimal(95)), (" 7.25 ", Decimal("7.25"))],
)
def test_numbers_as_spreadsheets_hold_them(value, expected):
    assert cells.number()(value) == expected


@pytest.mark.parametrize("value, code", [(True, "row_number_invalid"), ("NaN", "row_number_invalid"), ("1e400x", "row_number_invalid"), ("7.5", "row_number_not_whole")])
def test_what_is_no_number(value, code):
    with pytest.raises(InvalidValue) as caught:
        cells.number(whole=True)(value)
    assert caught.value.code == code


@pytest.mark.parametrize("value", ["2026-12-01", "2026/12/1", "2026.12.01", "2026年12月1日", "20261201", date(2026, 12, 1)])
def test_dates_as_schools_write_them(value):
    assert cells.day()(value) == date(2026, 12, 1)


@pytest.mark.parametrize("value", ["2026-02-30", "12/01/2026", "tomorrow"])
def test_what_is_no_date(value):
    with pytest.raises(InvalidValue) as caught:
        cells.day()(value)
    assert caught.value.code == "row_date_invalid"


# ---------------------------------------------------------------- hostile files


def test_a_formula_typed_into_a_csv_is_refused_and_never_stored():
    sheet = read(csv_file("id_number,subject,score,remark", f'{A},数学,95,"=HYPERLINK(""http://x.example"",""click"")"', f"{B},数学,95,-"))
    assert [(e.line, e.field, e.code) for e in sheet.errors] == [(2, "remark", "row_value_formula")]
    assert [r["remark"] for r in sheet.rows] == ["-"]  # a dash alone is no formula
    for start in ("+1+cmd|'/C calc'!A0", "-2+3", "@SUM(A1:A2)"):
        assert read(csv_file("id_number,subject,score,remark", f"{A},数学,95,{start}")).errors[0].code == "row_value_formula"


def test_an_xlsx_formula_is_never_evaluated():
    # openpyxl writes formulas without a computed value: a reader sees an empty cell, never the formula.
    sheet = read(xlsx([["id_number", "subject", "score"], [A, "数学", "=100+50"], [B, "数学", "=1/0"]]))
    assert [(e.line, e.code) for e in sheet.errors] == [(2, "row_value_missing"), (3, "row_value_missing")]


def test_nul_bytes_and_binary_junk_are_no_text():
    for data in (b"\x00\x01\x02 binary \xff\xfe\x00", csv_file(HEADER, f"{A},数学\x00,95"), b"PK\x03\x04 not a workbook"):
        problem = refused(data)
        assert problem.code == "import_unreadable", data[:20]


def test_text_in_neither_utf8_nor_gbk_is_refused_and_gbk_and_utf16_are_read():
    assert "neither UTF-8 nor GBK" in refused(HEADER.encode() + b"\n\xff\xff\xff,\x81,1\n").params["reason"]
    lines = ("身份证号,学科,成绩", f"{A},数学,95")
    for encoding in ("gbk", "gb18030", "utf-16", "utf-8-sig"):
        assert [r["subject"] for r in read(csv_file(*lines, encoding=encoding)).rows] == ["math"], encoding


def test_too_many_rows_a_huge_cell_and_an_unclosed_quote():
    assert refused(csv_file(HEADER, *[f"{A},数学,{i}" for i in range(4)]), max_rows=3).code == "import_too_many_rows"
    huge = refused(csv_file(HEADER, f'{A},数学,"{"9" * 200_000}"'))
    assert huge.code == "import_unreadable" and "field larger than field limit" in huge.params["reason"]
    # A quote never closed swallows the rest of the file into one cell: that row's errors, no crash.
    unclosed = read(csv_file(HEADER, f'{A},"数学,95', f"{B},数学,95"))
    assert [(e.line, e.code) for e in unclosed.errors] == [(2, "row_choice_invalid"), (2, "row_value_missing")]


def test_a_workbook_that_unpacks_into_more_than_allowed_is_refused_unread():
    columns = score_columns(TODAY)
    data = xlsx([["id_number", "subject", "score"], [A, "数学", 95]])
    with pytest.raises(ProblemError) as caught:
        columns.read(data, max_rows=10, max_unpacked=1000)
    assert caught.value.code == "import_unreadable" and "unpacks" in caught.value.params["reason"]


def _rewrite_sheet(data: bytes, change) -> bytes:
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            target.writestr(info, change(body) if info.filename == "xl/worksheets/sheet1.xml" else body)
    return out.getvalue()


def test_a_workbook_claiming_the_largest_sheet_is_read_as_what_it_holds():
    data = xlsx([["id_number", "subject", "score"], [A, "数学", 95]])

    def claim_everything(xml: bytes) -> bytes:
        far = b'<row r="3"><c r="XFD3" t="inlineStr"><is><t>far</t></is></c></row>'
        start, end = xml.index(b"<dimension"), xml.index(b"/>", xml.index(b"<dimension")) + 2
        xml = xml[:start] + b'<dimension ref="A1:XFD1048576"/>' + xml[end:]
        return xml.replace(b"</sheetData>", far + b"</sheetData>")

    columns = score_columns(TODAY)
    table = columns.table(_rewrite_sheet(data, claim_everything), max_rows=10)
    # Row 3's only cell is past the columns read: a blank row, skipped.
    assert [line for line, _ in table.rows] == [2]
    assert MAX_COLUMNS < 16384


def test_a_damaged_workbook_is_unreadable_not_a_crash():
    data = xlsx([["id_number", "subject", "score"], [A, "数学", 95]])
    broken = _rewrite_sheet(data, lambda xml: xml[: len(xml) // 2])
    assert refused(broken).code == "import_unreadable"


# ---------------------------------------------------------------- through a service's route


async def test_a_teacher_uploads_scores_and_gets_the_rows_or_the_errors_by_line(sample):
    good = csv_file(HEADER, f"{A},数学,95", f"{B},物理,88.5")
    r = await sample.post("/scores", files={"file": ("scores.csv", good, "text/csv")})
    assert r.status_code == 200, r.text
    assert [(s["line"], s["subject"], s["score"]) for s in r.json()["accepted"]] == [(2, "math", "95"), (3, "physics", "88.5")]

    bad = csv_file("身份证号,学科,成绩", f"{A},数学,95", f"{A},数学,200")
    r = await sample.post("/scores", files={"file": ("scores.csv", bad)}, headers={"Accept-Language": "zh"})
    body = assert_problem(r, 422, "sheet_rejected")
    assert body["detail"].startswith("文件中有 1 行无法接受")
    assert [(e["line"], e["field"], e["code"]) for e in body["errors"]] == [
        (3, "身份证号", "duplicate_in_file"), (3, "成绩", "row_number_out_of_range"),
    ]
    assert body["errors"][1]["message"] == "成绩须在 0 至 150 之间。"

    r = await sample.post("/scores", params={"mode": "valid"}, files={"file": ("scores.csv", bad)})
    assert r.status_code == 200 and [s["line"] for s in r.json()["accepted"]] == [2]
    assert [e["line"] for e in r.json()["errors"]] == [3, 3]


async def test_an_unreadable_upload_is_a_problem_not_a_500(sample):
    r = await sample.post("/scores", files={"file": ("x.csv", b"\x00\x00junk", "text/csv")})
    assert_problem(r, 422, "import_unreadable")
