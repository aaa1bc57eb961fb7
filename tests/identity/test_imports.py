"""Bulk import of a school's student list: all or nothing, or only the good rows; each bad row reported by its line."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select

from services.gateway.app import create_app
from services.gateway.identity.models import GuardianLink, UserAccount
from tests.conftest import running_app
from tests.identity.conftest import gateway_settings
from services.gateway.identity.service import aad
from tests.identity.factories import bad_checksum, cipher, id_number, make_school, make_student, make_user, unique
from tests.identity.tokens import bearer
from tests.platform.test_sheets import csv_file, xlsx

HEADER = "name,id_number,school,grade,guardian_name,guardian_phone,relation"
URL = "/identity/imports/students"


def upload(data: bytes, name: str = "students.csv", media: str = "text/csv") -> dict:
    return {"file": (name, data, media)}


async def _students_of(session, school) -> int:
    stmt = select(func.count()).select_from(UserAccount).where(
        UserAccount.school_id == school.id, UserAccount.roles.contains(["student"])
    )
    return (await session.execute(stmt)).scalar_one()


def _phone(n: int) -> str:
    return f"139{n:08d}"


async def test_bad_rows_reject_the_file_until_fixed_or_import_only_the_good_rows_when_asked(gw, session):
    school = await make_school(session, name=unique("第一中学"))
    registered = await make_student(session, school, born=date(2011, 9, 9))
    registered_id = cipher().decrypt_text(registered.id_number_cipher, aad=aad(registered.id, "id_number"))
    s = school.name
    good_a, good_b = id_number(date(2012, 3, 1)), id_number(date(2011, 4, 2))
    lines = [
        HEADER,                                                                     # line 1
        f"张三,{good_a},{s},7,张父,{_phone(1)},父亲",                                 # 2 good
        f"李四,{bad_checksum(id_number(date(2012, 1, 1)))},{s},7,李母,{_phone(2)},母亲",  # 3 bad checksum
        f"王五,{id_number(date(2012, 2, 2))},不存在的学校,7,王父,{_phone(3)},父亲",       # 4 unknown school
        f"张三二,{good_a},{s},7,张父,{_phone(1)},父亲",                               # 5 same student as line 2
        f"赵六,{id_number(date(2012, 5, 5))},{s},13,赵母,{_phone(4)},母亲",            # 6 grade out of range
        "",                                                                          # 7 blank: skipped, still counted as a line
        f",{id_number(date(2012, 6, 6))},{s},7,钱父,{_phone(5)},父亲",                 # 8 empty name
        f"孙七,{registered_id},{s},8,孙母,{_phone(6)},母亲",                           # 9 already registered
        f"周八,{good_b},{s},初二,周母,{_phone(7)},妈妈",                               # 10 good
    ]
    h = await bearer(gw.app, roles=["admin"])
    before = await _students_of(session, school)

    r = await gw.client.post(URL, files=upload(csv_file(*lines)), headers=h)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "import_rejected"
    assert "6 row(s)" in problem["detail"]
    got = {(e["line"], e["code"]) for e in problem["errors"]}
    assert got == {
        (3, "id_number_checksum"), (4, "school_unknown"), (5, "duplicate_in_file"), (6, "grade_out_of_range"),
        (8, "row_value_missing"), (9, "student_exists"),
    }
    by_line = {e["line"]: e for e in problem["errors"]}
    assert by_line[5]["field"] == "id_number" and "line 2" in by_line[5]["message_en"] and "第 2 行" in by_line[5]["message_zh"]
    assert by_line[8]["field"] == "name" and by_line[8]["loc"] == ["file", 8, "name"]
    assert await _students_of(session, school) == before  # nothing imported

    r = await gw.client.post(URL, params={"mode": "valid_rows_only"}, files=upload(csv_file(*lines)), headers=h)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["rows"], report["imported"], report["rejected"]) == (8, 2, 6)  # the blank line is no row
    assert [s["line"] for s in report["students"]] == [2, 10]
    assert {(e["line"], e["code"]) for e in report["errors"]} == got
    assert await _students_of(session, school) == before + 2
    imported = (await session.execute(select(UserAccount).where(UserAccount.id == report["students"][1]["student_id"]))).scalar_one()
    assert (imported.display_name, imported.grade, imported.birth_date) == ("周八", 8, date(2011, 4, 2))
    links = (await session.execute(select(GuardianLink).where(GuardianLink.student_id == imported.id))).scalars().all()
    assert [l.relation for l in links] == ["mother"]


async def test_a_fixed_file_imports_whole(gw, session):
    school = await make_school(session)
    lines = [HEADER] + [
        f"学生{i},{id_number(date(2012, 1, i + 1))},{school.name},{7 + i % 3},家长{i},{_phone(100 + i)},母亲" for i in range(5)
    ]
    r = await gw.client.post(URL, files=upload(csv_file(*lines)), headers=await bearer(gw.app, roles=["admin"]))
    assert r.status_code == 200, r.text
    assert (r.json()["imported"], r.json()["rejected"], r.json()["guardians_created"]) == (5, 0, 5)
    assert await _students_of(session, school) == 5
    # Sending the same file again is refused as a whole: every student is registered now.
    again = await gw.client.post(URL, files=upload(csv_file(*lines)), headers=await bearer(gw.app, roles=["admin"]))
    assert again.status_code == 422
    assert {e["code"] for e in again.json()["errors"]} == {"student_exists"}


async def test_an_xlsx_with_chinese_headers_and_chinese_grades(gw, session):
    school = await make_school(session, name=unique("实验小学"))
    phone = _phone(200)
    rows = [
        ["序号", "姓名", "身份证号（18位）", "学校", "年级", "监护人姓名", "监护人电话", "关系", "家庭住址"],
        [1, "小明", id_number(date(2014, 3, 3)), school.name, "五年级", "王芳", phone, "母亲", "北京市朝阳区某路1号"],
        [2, "小红", id_number(date(2012, 3, 3)), school.name, "初一", "王芳", phone, "妈妈", None],
        [3, "小刚", id_number(date(2009, 3, 3)), school.name, 11, "刘强", _phone(201), "爷爷", None],
    ]
    r = await gw.client.post(
        URL, files=upload(xlsx(rows), "名单.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        headers=await bearer(gw.app, roles=["admin"]),
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["imported"] == 3 and report["ignored_columns"] == ["序号"]
    # Siblings with one guardian phone share one guardian account.
    assert report["guardians_created"] == 2
    assert report["students"][0]["guardian_id"] == report["students"][1]["guardian_id"]
    grades = dict(
        (await session.execute(select(UserAccount.display_name, UserAccount.grade).where(UserAccount.school_id == school.id))).all()
    )
    assert grades == {"小明": 5, "小红": 7, "小刚": 11}


async def test_a_title_row_above_the_header_and_row_numbers_as_the_spreadsheet_shows_them(gw, session):
    school = await make_school(session)
    rows = [
        [f"{school.name}2026年拔尖创新人才培养计划学生名单"],
        [],
        ["姓名", "身份证号", "学校", "年级", "监护人姓名", "监护人电话"],
        ["甲", id_number(date(2012, 1, 1)), school.name, "初一", "甲父", _phone(250)],
        ["乙", id_number(date(2012, 1, 2)), school.name, "初五", "乙父", _phone(251)],
    ]
    r = await gw.client.post(URL, files=upload(xlsx(rows), "list.xlsx"), headers=await bearer(gw.app, roles=["admin"]))
    assert r.status_code == 422, r.text
    assert [(e["line"], e["field"], e["code"]) for e in r.json()["errors"]] == [(5, "年级", "grade_out_of_range")]


async def test_a_gbk_csv_as_excel_saves_it_with_chinese_headers(gw, session):
    school = await make_school(session, name=unique("第二中学"))
    lines = [
        "姓名,身份证号码,学校名称,年级,家长姓名,家长手机号,与学生关系",
        f"陈一,{id_number(date(2010, 10, 10))},{school.name},初三,陈父,{_phone(300)},父亲",
        f"陈二,{bad_checksum(id_number(date(2010, 11, 11)))},{school.name},高一,陈母,{_phone(301)},母亲",
    ]
    data = csv_file(*lines, encoding="gbk")
    r = await gw.client.post(
        URL, params={"mode": "valid_rows_only"}, files=upload(data), headers={**(await bearer(gw.app, roles=["admin"])), "Accept-Language": "zh-CN"}
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["imported"] == 1
    [error] = report["errors"]
    assert (error["line"], error["field"], error["code"]) == (3, "身份证号码", "id_number_checksum")
    assert error["message"] == error["message_zh"] and "校验" in error["message"]
    # UTF-8 with a BOM, tab separated, reads the same.
    tabbed = ("\ufeff" + "\n".join(l.replace(",", "\t") for l in lines[:1] + [
        f"陈三,{id_number(date(2010, 12, 12))},{school.name},9,陈父,{_phone(300)},父亲",
    ]) + "\n").encode("utf-8")
    r = await gw.client.post(URL, files=upload(tabbed), headers=await bearer(gw.app, roles=["admin"]))
    assert r.status_code == 200, r.text
    # Same phone and name as line 2's guardian: the existing guardian is linked, not duplicated.
    assert (r.json()["guardians_created"], r.json()["guardians_linked_existing"]) == (0, 1)


async def test_a_known_phone_under_another_name_is_not_linked(gw, session):
    school = await make_school(session)
    await make_user(session, "guardian", phone=_phone(400), name="林先生")
    lines = [HEADER, f"林小,{id_number(date(2012, 8, 8))},{school.name},7,别人,{_phone(400)},父亲"]
    r = await gw.client.post(URL, files=upload(csv_file(*lines)), headers=await bearer(gw.app, roles=["admin"]))
    assert r.status_code == 422
    assert [(e["line"], e["code"]) for e in r.json()["errors"]] == [(2, "guardian_mismatch")]


async def test_a_coordinator_imports_into_their_own_school_only(gw, session):
    mine, other = await make_school(session), await make_school(session)
    coordinator = await make_user(session, "coordinator", school=mine)
    h = await bearer(gw.app, coordinator)
    no_school_column = csv_file(
        "name,id_number,grade,guardian_name,guardian_phone",
        f"本校生,{id_number(date(2012, 9, 1))},7,家长,{_phone(500)}",
    )
    r = await gw.client.post(URL, files=upload(no_school_column), headers=h)
    assert r.status_code == 200, r.text
    assert await _students_of(session, mine) == 1
    other_school = csv_file(HEADER, f"外校生,{id_number(date(2012, 9, 2))},{other.name},7,家长,{_phone(501)},父亲")
    r = await gw.client.post(URL, files=upload(other_school), headers=h)
    assert r.status_code == 422
    assert [e["code"] for e in r.json()["errors"]] == ["school_not_yours"]
    r = await gw.client.post(URL, params={"school_id": str(other.id)}, files=upload(no_school_column), headers=h)
    assert r.status_code == 422  # the query cannot point a coordinator at another school
    assert await _students_of(session, other) == 0
    for role in ("staff", "guardian"):
        r = await gw.client.post(URL, files=upload(no_school_column), headers=await bearer(gw.app, roles=[role]))
        assert r.status_code == 403


async def test_files_that_cannot_be_imported_say_why(gw, session):
    await make_school(session)
    h = await bearer(gw.app, roles=["admin"])
    cases = [
        (b"\x00\x01\x02 binary junk \xff\xfe\x00", 422, "import_unreadable"),
        (b"PK\x03\x04 not really a workbook", 422, "import_unreadable"),
        (csv_file("姓名,年级", "张三,7"), 422, "import_missing_columns"),
        (csv_file(HEADER), 422, "import_empty"),
        (b"", 422, "import_unreadable"),
    ]
    for data, status, code in cases:
        r = await gw.client.post(URL, files=upload(data), headers=h)
        assert (r.status_code, r.json()["code"]) == (status, code), (data[:20], r.text)
    r = await gw.client.post(URL, files=upload(csv_file("姓名,年级", "张三,7")), headers={**h, "Accept-Language": "zh"})
    assert "身份证号" in r.json()["detail"]


async def test_size_limits(database_url, session):
    school = await make_school(session)
    # The import's route takes files up to its own limit, over the request limit of every other route.
    settings = gateway_settings(database_url, import_max_rows=3, import_max_bytes=2048, request_max_bytes=1024)
    app = create_app(settings)
    async with running_app(app, session) as client:
        h = await bearer(app, roles=["admin"])
        rows = [HEADER] + [f"学生{i},{id_number(date(2012, 1, 1))},{school.name},7,家长,{_phone(600 + i)},母亲" for i in range(4)]
        r = await client.post(URL, files=upload(csv_file(*rows)), headers=h)
        assert (r.status_code, r.json()["code"]) == (413, "import_too_many_rows")
        big = csv_file(HEADER, "x" * 3000)
        r = await client.post(URL, files=upload(big), headers=h)
        assert (r.status_code, r.json()["code"]) == (413, "import_too_large")
        address = "福建省泉州市丰泽区" * 20
        fits = csv_file(HEADER + ",address", *[
            f"学生{i},{id_number(date(2012, 2, 1 + i))},{school.name},7,家长{i},{_phone(700 + i)},母亲,{address}" for i in range(3)
        ])
        assert settings.request_max_bytes < len(fits) <= settings.import_max_bytes
        r = await client.post(URL, files=upload(fits), headers=h)
        assert (r.status_code, r.json()["imported"]) == (200, 3), r.text
        r = await client.post("/identity/schools", json={"name": "x" * 1100, "district": "d", "level": "middle"}, headers=h)
        assert (r.status_code, r.json()["code"]) == (413, "payload_too_large")


async def test_a_workbook_that_unpacks_into_gigabytes_is_refused(gw, session, monkeypatch):
    from services.gateway.identity import imports

    monkeypatch.setattr(imports, "MAX_UNPACKED_XLSX", 1000)  # a real list unpacks to more than this small bound
    r = await gw.client.post(URL, files=upload(xlsx([["姓名"], ["甲"]]), "a.xlsx"), headers=await bearer(gw.app, roles=["admin"]))
    assert (r.status_code, r.json()["code"]) == (422, "import_unreadable")
    assert "unpacks" in r.json()["detail"]


async def test_names_with_backslashes_tabs_and_line_breaks_are_stored_as_written(gw, session):
    school = await make_school(session, name=unique("第二中学"))
    # A name as a spreadsheet may hold it: a line break inside the cell, a tab, backslashes,
    # and the very text a bulk loader reads as "no value".
    name = "王\\N\t小\n明\\"
    body = HEADER + "\n" + f'"{name}",{id_number(date(2012, 6, 1))},{school.name},7,"王\\父",{_phone(77)},父亲' + "\n"
    r = await gw.client.post(URL, files=upload(body.encode()), headers=await bearer(gw.app, roles=["admin"]))
    assert r.status_code == 200, r.text
    imported = r.json()["students"][0]
    for user_id, expected in ((imported["student_id"], name), (imported["guardian_id"], "王\\父")):
        stored = await session.scalar(select(UserAccount.display_name).where(UserAccount.id == uuid.UUID(user_id)))
        assert stored == expected
