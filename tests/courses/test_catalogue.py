"""The catalogue: staff add courses (prerequisites never the course itself, never a circle), open
terms with their weekend and vacation blocks, and sections at the base, a school or a partner
university with meetings within the term's blocks (listed, or weekly patterns in China's time);
every signed-in person browses them with their seats left; a change needs the ETag read; a
refusal names its rule and stores nothing; every change is on the record."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from services.courses.catalogue import rules
from services.courses.catalogue.rules import Meeting
from services.courses.catalogue.schemas import BlockIn
from services.courses.db import chain
from services.courses.models import BlockKind, Course, Section, SectionMeeting, Term
from shared.clock import CHINA
from tests.courses.support import call
from tests.selection.support import problem

# A term of 2027 spring: the weekends block from Saturday 6 March, a winter block in February.
TERM_STARTS, TERM_ENDS = date(2027, 2, 1), date(2027, 6, 30)
SATURDAY = date(2027, 3, 6)


def _tag() -> str:
    return uuid.uuid4().hex[:8].upper()


def _at(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), CHINA).isoformat()


async def _send(w, who: str, method: str, path: str, body: dict[str, Any], if_match: str | None = None):
    headers = {**w.caller(who).headers, **({"If-Match": if_match} if if_match else {})}
    return await w.clients["courses"].request(method, path, json=body, headers=headers)


def _course_body(**extra: Any) -> dict[str, Any]:
    return {"code": f"MATH-{_tag()}", "title": "初等数论", "type": "basic", "discipline": "math", "level": 1, "min_grade": 7,
            "max_grade": 9, "hours": 32, "description": "整除、同余与不定方程。", **extra}


async def _course(w, **extra: Any) -> dict[str, Any]:
    r = await call(w, "staff", "POST", "/courses", json=_course_body(**extra))
    assert r.status_code == 201, r.text
    return r.json()


def _term_body(**extra: Any) -> dict[str, Any]:
    return {"title": f"2027 春季 {_tag()}", "starts_on": TERM_STARTS.isoformat(), "ends_on": TERM_ENDS.isoformat(), "load_limit": 3,
            "blocks": [{"kind": "winter", "starts_on": "2027-02-01", "ends_on": "2027-02-20"},
                       {"kind": "weekends", "starts_on": "2027-03-01", "ends_on": "2027-06-30"}], **extra}


async def _term(w, **extra: Any) -> dict[str, Any]:
    r = await call(w, "staff", "POST", "/terms", json=_term_body(**extra))
    assert r.status_code == 201, r.text
    return r.json()


def _block(term: dict[str, Any], kind: str) -> str:
    return next(b["id"] for b in term["blocks"] if b["kind"] == kind)


def _section_body(course: dict[str, Any], term: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"course_id": course["id"], "term_id": term["id"], "code": f"S-{_tag()}", "host_kind": "base", "teacher_name": "林老师",
            "place": "泉州五中 科学楼 301", "capacity": 30, "meetings": [{"starts_at": _at(SATURDAY, 9), "ends_at": _at(SATURDAY, 11, 30)}],
            **extra}


async def _count(w, model: Any, *where: Any) -> int:
    return (await w.tx.session.execute(sa.select(sa.func.count()).select_from(model).where(*where))).scalar_one()


async def _kinds(w, table, row_id: str) -> list[str]:
    return [e.kind for e in await chain.entries(w.tx.session, table=table, row_id=uuid.UUID(row_id))]


# ---------------------------------------------------------------- the rules, plain


def test_a_circle_of_prerequisites_is_found_through_any_number_of_courses():
    a, b, c, d = (uuid.uuid4() for _ in range(4))
    assert rules.prerequisite_cycle({a: [b], b: [c], c: []}, a) is None
    assert rules.prerequisite_cycle({a: [b], b: [c], c: [a]}, a) == [a, b, c, a]
    assert rules.prerequisite_cycle({a: [d, b], b: [d], d: [], c: [a]}, a) is None
    assert rules.prerequisite_cycle({a: [a]}, a) == [a, a]
    assert rules.unique_in_order([b, a, b]) == [b, a]


def test_a_meeting_lies_within_a_block_on_its_days_of_chinas_calendar():
    weekends = BlockIn(kind="weekends", starts_on=date(2027, 3, 1), ends_on=date(2027, 3, 31))
    summer = BlockIn(kind="summer", starts_on=date(2027, 7, 10), ends_on=date(2027, 7, 20))

    def meeting(day: date, start: int, end: int) -> Meeting:
        return Meeting(datetime.combine(day, time(start), CHINA), datetime.combine(day, time(end), CHINA))

    assert rules.within(weekends, meeting(SATURDAY, 9, 11))
    assert not rules.within(weekends, meeting(SATURDAY - timedelta(days=1), 9, 11))  # a Friday
    # Saturday 09:00 in China is Saturday 01:00 UTC, and Friday 23:00 UTC is Saturday 07:00 in China.
    friday_utc = Meeting(datetime.fromisoformat("2027-03-05T23:00:00+00:00"), datetime.fromisoformat("2027-03-06T01:00:00+00:00"))
    assert rules.within(weekends, friday_utc)
    # Saturday to Sunday is a weekend; Sunday night into Monday is not.
    assert rules.within(weekends, Meeting(datetime.combine(SATURDAY, time(20), CHINA), datetime.combine(SATURDAY + timedelta(days=1), time(0), CHINA)))
    assert not rules.within(weekends, Meeting(datetime.combine(SATURDAY + timedelta(days=1), time(20), CHINA),
                                              datetime.combine(SATURDAY + timedelta(days=2), time(1), CHINA)))
    assert rules.within(summer, meeting(date(2027, 7, 14), 9, 16))  # any day of a vacation block
    assert not rules.within(summer, meeting(date(2027, 7, 21), 9, 16))
    assert rules.outside([weekends, summer], [meeting(SATURDAY, 9, 11), meeting(date(2027, 7, 21), 9, 10)]) == meeting(date(2027, 7, 21), 9, 10)
    assert rules.first_overlap([meeting(SATURDAY, 9, 11), meeting(SATURDAY, 11, 12)]) is None
    assert rules.first_overlap([meeting(SATURDAY, 9, 11), meeting(SATURDAY, 10, 12)]) == (meeting(SATURDAY, 9, 11), meeting(SATURDAY, 10, 12))


def test_a_weekly_pattern_makes_every_such_day_of_the_block_but_those_skipped():
    block = BlockIn(kind="weekends", starts_on=date(2027, 3, 1), ends_on=date(2027, 3, 31))
    made = rules.weekly(block, "saturday", time(9), time(11, 30), {date(2027, 3, 13)})
    assert [m.starts_at for m in made] == [datetime.combine(date(2027, 3, d), time(9), CHINA) for d in (6, 20, 27)]
    assert all(m.ends_at - m.starts_at == timedelta(hours=2, minutes=30) for m in made)
    assert rules.weekly(BlockIn(kind="winter", starts_on=date(2027, 2, 1), ends_on=date(2027, 2, 2)), "friday", time(9), time(10)) == []


def test_a_terms_blocks_lie_within_it_in_order_and_apart():
    def blocks(*spans: tuple[str, str, str]) -> list[BlockIn]:
        return [BlockIn(kind=k, starts_on=date.fromisoformat(a), ends_on=date.fromisoformat(b)) for k, a, b in spans]

    assert rules.blocks_problem(TERM_STARTS, TERM_ENDS, blocks(("winter", "2027-02-01", "2027-02-20"))) is None
    assert "before it starts" in rules.blocks_problem(TERM_ENDS, TERM_STARTS, [])
    assert "not within the term" in rules.blocks_problem(TERM_STARTS, TERM_ENDS, blocks(("summer", "2027-06-20", "2027-07-20")))
    assert "overlap" in rules.blocks_problem(TERM_STARTS, TERM_ENDS, blocks(("winter", "2027-02-01", "2027-02-20"),
                                                                          ("weekends", "2027-02-20", "2027-03-20")))
    assert "no Saturday or Sunday" in rules.blocks_problem(TERM_STARTS, TERM_ENDS, blocks(("weekends", "2027-03-01", "2027-03-05")))
    assert "before it starts" in rules.blocks_problem(TERM_STARTS, TERM_ENDS, blocks(("winter", "2027-02-20", "2027-02-01")))
    assert BlockKind.weekends.value == "weekends"


# ---------------------------------------------------------------- the story


async def test_a_course_with_a_prerequisite_a_term_with_blocks_and_a_cross_school_section_meeting_weekly(w):
    basic = await _course(w)
    extended = await _course(w, type="extended", level=2, min_grade=8, max_grade=12, prerequisites=[basic["id"], basic["id"]])
    assert extended["prerequisites"] == [basic["id"]]  # a repeat counts once
    term = await _term(w)
    assert [b["kind"] for b in term["blocks"]] == ["winter", "weekends"]
    body = _section_body(extended, term, host_kind="school", host_id=w.ids["school_b"], teacher_id=w.ids["mentor"], teacher_name=None,
                         capacity=2, meetings=[{"starts_at": _at(date(2027, 2, 8), 9), "ends_at": _at(date(2027, 2, 8), 16)}],
                         weekly=[{"block_id": _block(term, "weekends"), "weekday": "saturday", "starts": "09:00", "ends": "11:30",
                                  "skip": ["2027-05-01"]}])
    created = await call(w, "staff", "POST", "/sections", json=body)
    assert created.status_code == 201, created.text
    section = created.json()
    assert created.headers["Location"] == f"/sections/{section['id']}" and created.headers["ETag"] == '"1"'
    assert (section["host_kind"], section["host_id"], section["capacity"], section["taken"], section["seats_left"]) == (
        "school", w.ids["school_b"], 2, 0, 2)
    assert section["host_name"].startswith("matrix B")
    assert section["teacher_id"] == w.ids["mentor"] and section["teacher_name"]  # the directory's name of the mentor
    starts = [datetime.fromisoformat(m["starts_at"]) for m in section["meetings"]]
    saturdays = [d for d in (date(2027, 3, 1) + timedelta(days=i) for i in range(122)) if d.weekday() == 5 and d != date(2027, 5, 1)]
    assert starts == [datetime.combine(date(2027, 2, 8), time(9), CHINA), *(datetime.combine(d, time(9), CHINA) for d in saturdays)]

    # Every signed-in person browses it: a student of school A reads the cross-school section.
    for who in ("student", "guardian", "coordinator", "partner", "mentor"):
        got = await call(w, who, "GET", f"/sections/{section['id']}")
        assert got.status_code == 200 and got.json() == section, (who, got.text)
    listed = await call(w, "admin", "GET", "/sections", params={"term_id": term["id"]})
    assert [s["id"] for s in listed.json()["items"]] == [section["id"]]
    for query, found in (({"host_kind": "school", "host_id": w.ids["school_b"]}, True), ({"host_kind": "base"}, False),
                         ({"discipline": "math", "type": "extended", "grade": 8}, True), ({"grade": 7}, False),
                         ({"type": "basic"}, False), ({"course_id": extended["id"]}, True), ({"discipline": "physics"}, False)):
        r = await call(w, "student", "GET", "/sections", params={"term_id": term["id"], **query})
        assert r.status_code == 200 and (section["id"] in [s["id"] for s in r.json()["items"]]) is found, (query, r.text)
    courses = await call(w, "student", "GET", "/courses", params={"grade": 7, "discipline": "math", "limit": 200})
    ids = [c["id"] for c in courses.json()["items"]]
    assert basic["id"] in ids and extended["id"] not in ids

    assert await _kinds(w, Course.__table__, extended["id"]) == ["course.created"]
    assert await _kinds(w, Term.__table__, term["id"]) == ["term.created"]
    assert await _kinds(w, Section.__table__, section["id"]) == ["section.created"]


async def test_the_worlds_catalogue_has_its_courses_term_and_two_sections(w):
    base = (await call(w, "student", "GET", f"/sections/{w.ids['section_base']}")).json()
    school_b = (await call(w, "student", "GET", f"/sections/{w.ids['section_school_b']}")).json()
    assert (base["host_kind"], base["host_id"], school_b["host_kind"], school_b["host_id"]) == ("base", None, "school", w.ids["school_b"])
    assert base["meetings"] and school_b["meetings"]
    assert all(datetime.fromisoformat(m["starts_at"]).astimezone(CHINA).weekday() == 5 for m in base["meetings"])
    extended = (await call(w, "student", "GET", f"/courses/{w.ids['course_extended']}")).json()
    assert extended["prerequisites"] == [w.ids["course_basic"]]


# ---------------------------------------------------------------- courses


async def test_prerequisites_are_courses_of_the_catalogue_never_the_course_itself_never_a_circle(w):
    a = await _course(w)
    b = await _course(w, prerequisites=[a["id"]])
    c = await _course(w, prerequisites=[b["id"]])
    unknown = str(uuid.uuid4())
    code = f"MATH-{_tag()}"
    problem(await call(w, "staff", "POST", "/courses", json=_course_body(code=code, prerequisites=[a["id"], unknown])), 422,
            "courses_prerequisite_not_found")
    # An id of something else (a term, a person) is no course either.
    problem(await call(w, "staff", "POST", "/courses", json=_course_body(code=code, prerequisites=[w.ids["student"]])), 422,
            "courses_prerequisite_not_found")
    assert await _count(w, Course, Course.code == code) == 0
    path = f"/courses/{a['id']}"
    etag = (await call(w, "staff", "GET", path)).headers["ETag"]
    problem(await _send(w, "staff", "PATCH", path, {"prerequisites": [a["id"]]}, etag), 422, "courses_prerequisite_self")
    cycle = problem(await _send(w, "staff", "PATCH", path, {"prerequisites": [c["id"]]}, etag), 422, "courses_prerequisite_cycle")
    assert a["code"] in cycle["detail"] and c["code"] in cycle["detail"] and b["code"] in cycle["detail"]
    problem(await _send(w, "staff", "PATCH", path, {"prerequisites": [unknown]}, etag), 422, "courses_prerequisite_not_found")
    got = await call(w, "staff", "GET", path)
    assert got.json()["prerequisites"] == [] and got.headers["ETag"] == etag
    assert await _kinds(w, Course.__table__, a["id"]) == ["course.created"]
    # A course no other one needs may take another as its prerequisite.
    d = await _course(w)
    ok = await _send(w, "staff", "PATCH", path, {"prerequisites": [d["id"]]}, etag)
    assert ok.status_code == 200 and ok.json()["prerequisites"] == [d["id"]], ok.text
    assert await _kinds(w, Course.__table__, a["id"]) == ["course.created", "course.changed"]


async def test_a_course_that_does_not_hold_is_refused_and_nothing_is_stored(w):
    code = f"MATH-{_tag()}"
    taken = await _course(w)
    bad = [
        ({"min_grade": 0}, 422, "validation_failed"),
        ({"max_grade": 13}, 422, "validation_failed"),
        ({"min_grade": 9, "max_grade": 7}, 422, "courses_grades_invalid"),
        ({"hours": 0}, 422, "validation_failed"),
        ({"hours": -5}, 422, "validation_failed"),
        ({"level": 11}, 422, "validation_failed"),
        ({"type": "advanced"}, 422, "validation_failed"),
        ({"discipline": "alchemy"}, 422, "validation_failed"),
        ({"code": "M" * 41}, 422, "validation_failed"),
        ({"code": " MATH-1"}, 422, "validation_failed"),  # a code is an identifier: nothing stripped around it
        ({"description": "x" * 4001}, 422, "validation_failed"),
        ({"title": "数论\u0000初步"}, 422, "validation_failed"),
        ({"title": "   "}, 422, "validation_failed"),
        ({"prerequisites": [str(uuid.uuid4()) for _ in range(21)]}, 422, "validation_failed"),
        ({"prerequisites": ["not-a-uuid"]}, 422, "validation_failed"),
        ({"hours": "32"}, 422, "validation_failed"),
        ({"capacity": 3}, 422, "validation_failed"),
    ]
    for extra, status, expected in bad:
        r = await call(w, "staff", "POST", "/courses", json=_course_body(**{"code": code, **extra}))
        assert (r.status_code, r.json().get("code")) == (status, expected), (extra, r.text)
    assert await _count(w, Course, Course.code == code) == 0
    problem(await call(w, "staff", "POST", "/courses", json=_course_body(code=taken["code"])), 409, "courses_course_code_taken")
    assert await _count(w, Course, Course.code == taken["code"]) == 1
    for who in ("student", "coordinator", "guardian", "mentor", "admin"):
        problem(await call(w, who, "POST", "/courses", json=_course_body(code=code)), 403, "forbidden")


async def test_a_course_is_changed_only_with_the_etag_read(w):
    course = await _course(w)
    other = await _course(w)
    path = f"/courses/{course['id']}"
    read = await call(w, "student", "GET", path)
    etag = read.headers["ETag"]
    problem(await _send(w, "staff", "PATCH", path, {"hours": 40}), 428, "precondition_required")
    changed = await _send(w, "staff", "PATCH", path, {"hours": 40, "max_grade": 12}, etag)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["hours"], changed.json()["max_grade"]) == (40, 12) and changed.headers["ETag"] != etag
    problem(await _send(w, "staff", "PATCH", path, {"hours": 48}, etag), 412, "precondition_failed")
    now = changed.headers["ETag"]
    problem(await _send(w, "staff", "PATCH", path, {"min_grade": 12, "max_grade": 11}, now), 422, "courses_grades_invalid")
    problem(await _send(w, "staff", "PATCH", path, {"min_grade": 13}, now), 422, "validation_failed")
    problem(await _send(w, "staff", "PATCH", path, {"title": None}, now), 422, "courses_field_not_nullable")
    problem(await _send(w, "staff", "PATCH", path, {"code": other["code"]}, now), 409, "courses_course_code_taken")
    problem(await _send(w, "staff", "PATCH", f"/courses/{uuid.uuid4()}", {"hours": 3}, "*"), 404, "courses_course_not_found")
    problem(await _send(w, "student", "PATCH", path, {"hours": 9}, now), 403, "forbidden")
    got = await call(w, "staff", "GET", path)
    assert (got.json()["hours"], got.json()["code"], got.json()["title"], got.headers["ETag"]) == (40, course["code"], course["title"], now)
    # The same values again change nothing, and record nothing.
    same = await _send(w, "staff", "PATCH", path, {"hours": 40}, now)
    assert same.status_code == 200 and same.headers["ETag"] == now
    assert await _kinds(w, Course.__table__, course["id"]) == ["course.created", "course.changed"]


async def test_a_course_created_twice_with_one_idempotency_key_is_one_course(w):
    body = _course_body()
    headers = {**w.caller("staff").headers, "Idempotency-Key": str(uuid.uuid4())}
    first = await w.clients["courses"].post("/courses", json=body, headers=headers)
    again = await w.clients["courses"].post("/courses", json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await _count(w, Course, Course.code == body["code"]) == 1


async def test_courses_are_listed_by_code_page_after_page(w):
    prefix = f"ZZ-{_tag()}"
    made = [await _course(w, code=f"{prefix}-{i}", discipline="chemistry") for i in (3, 1, 2)]
    seen, cursor = [], None
    while True:
        r = await call(w, "guardian", "GET", "/courses", params={"discipline": "chemistry", "limit": 1, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        seen += [c["code"] for c in r.json()["items"] if c["code"].startswith(prefix)]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(c["code"] for c in made)
    problem(await call(w, "student", "GET", "/courses", params={"grade": 13}), 422, "validation_failed")


# ---------------------------------------------------------------- terms


async def test_a_term_that_does_not_hold_is_refused_and_nothing_is_stored(w):
    title = f"2027 春季 {_tag()}"
    taken = await _term(w)
    winter = {"kind": "winter", "starts_on": "2027-02-01", "ends_on": "2027-02-20"}
    bad = [
        ({"ends_on": "2027-01-01"}, 422, "courses_term_invalid"),
        ({"blocks": [{"kind": "summer", "starts_on": "2027-06-20", "ends_on": "2027-07-20"}]}, 422, "courses_term_invalid"),
        ({"blocks": [winter, {"kind": "weekends", "starts_on": "2027-02-15", "ends_on": "2027-03-31"}]}, 422, "courses_term_invalid"),
        ({"blocks": [{"kind": "weekends", "starts_on": "2027-03-01", "ends_on": "2027-03-05"}]}, 422, "courses_term_invalid"),
        ({"blocks": [{"kind": "winter", "starts_on": "2027-02-20", "ends_on": "2027-02-01"}]}, 422, "courses_term_invalid"),
        ({"blocks": []}, 422, "validation_failed"),
        ({"blocks": [{"kind": "spring", "starts_on": "2027-03-01", "ends_on": "2027-03-31"}]}, 422, "validation_failed"),
        ({"load_limit": 0}, 422, "validation_failed"),
        ({"load_limit": -1}, 422, "validation_failed"),
        ({"load_limit": 21}, 422, "validation_failed"),
        ({"starts_on": "2027-02-30"}, 422, "validation_failed"),
        ({"title": "春季\u0000学期"}, 422, "validation_failed"),
        ({"title": "学" * 201}, 422, "validation_failed"),
    ]
    for extra, status, expected in bad:
        r = await call(w, "staff", "POST", "/terms", json=_term_body(**{"title": title, **extra}))
        assert (r.status_code, r.json().get("code")) == (status, expected), (extra, r.text)
    assert await _count(w, Term, Term.title == title) == 0
    problem(await call(w, "staff", "POST", "/terms", json=_term_body(title=taken["title"])), 409, "courses_term_title_taken")
    problem(await call(w, "coordinator", "POST", "/terms", json=_term_body(title=title)), 403, "forbidden")


async def test_a_terms_blocks_change_only_while_every_meeting_still_lies_within_them(w):
    term = await _term(w)
    path = f"/terms/{term['id']}"
    course = await _course(w)
    section = await call(w, "staff", "POST", "/sections", json=_section_body(course, term))
    assert section.status_code == 201, section.text
    etag = (await call(w, "staff", "GET", path)).headers["ETag"]
    problem(await _send(w, "staff", "PATCH", path, {"load_limit": 4}), 428, "precondition_required")
    # The weekends block moved to April would leave the 6 March meeting outside.
    april = [{"kind": "weekends", "starts_on": "2027-04-01", "ends_on": "2027-06-30"}]
    problem(await _send(w, "staff", "PATCH", path, {"blocks": april}, etag), 422, "courses_meeting_outside_blocks")
    problem(await _send(w, "staff", "PATCH", path, {"ends_on": "2027-05-31"}, etag), 422, "courses_term_invalid")
    problem(await _send(w, "staff", "PATCH", path, {"load_limit": None}, etag), 422, "courses_field_not_nullable")
    problem(await _send(w, "staff", "PATCH", f"/terms/{uuid.uuid4()}", {"load_limit": 4}, "*"), 404, "courses_term_not_found")
    unchanged = await call(w, "staff", "GET", path)
    assert unchanged.json() == term and unchanged.headers["ETag"] == etag
    # March stays; a summer block is added and the winter one dropped.
    blocks = [{"kind": "weekends", "starts_on": "2027-03-01", "ends_on": "2027-05-31"},
              {"kind": "summer", "starts_on": "2027-06-10", "ends_on": "2027-06-30"}]
    changed = await _send(w, "staff", "PATCH", path, {"blocks": blocks, "load_limit": 4}, etag)
    assert changed.status_code == 200, changed.text
    assert [(b["kind"], b["starts_on"]) for b in changed.json()["blocks"]] == [("weekends", "2027-03-01"), ("summer", "2027-06-10")]
    assert changed.json()["load_limit"] == 4 and changed.headers["ETag"] != etag
    problem(await _send(w, "staff", "PATCH", path, {"load_limit": 5}, etag), 412, "precondition_failed")
    entries = await chain.entries(w.tx.session, table=Term.__table__, row_id=uuid.UUID(term["id"]))
    assert [e.kind for e in entries] == ["term.created", "term.changed"]
    assert entries[-1].payload["fields"] == ["blocks", "load_limit"] and len(entries[-1].payload["blocks"]) == 2


# ---------------------------------------------------------------- sections


async def test_a_section_that_does_not_hold_is_refused_and_nothing_is_stored(w):
    course, term = await _course(w), await _term(w)
    other_term = await _term(w)
    code = f"S-{_tag()}"
    weekends = _block(term, "weekends")
    friday = SATURDAY - timedelta(days=1)

    def meeting(day: date, start: str, end: str) -> dict[str, str]:
        return {"starts_at": f"{day.isoformat()}T{start}+08:00", "ends_at": f"{day.isoformat()}T{end}+08:00"}

    def weekly(**extra: Any) -> list[dict[str, Any]]:
        return [{"block_id": weekends, "weekday": "saturday", "starts": "09:00", "ends": "11:30", **extra}]

    bad = [
        ({"course_id": str(uuid.uuid4())}, 404, "courses_course_not_found"),
        ({"term_id": str(uuid.uuid4())}, 404, "courses_term_not_found"),
        ({"host_kind": "base", "host_id": w.ids["school_b"]}, 422, "courses_host_invalid"),
        ({"host_kind": "school"}, 422, "courses_host_invalid"),
        ({"host_kind": "school", "host_id": str(uuid.uuid4())}, 422, "courses_host_not_found"),
        # Ids of something else: a partner university's as a school, a school's as a partner, a person's.
        ({"host_kind": "school", "host_id": w.ids["university"]}, 422, "courses_host_not_found"),
        ({"host_kind": "partner", "host_id": w.ids["school_a"]}, 422, "courses_host_not_found"),
        ({"host_kind": "school", "host_id": w.ids["coordinator"]}, 422, "courses_host_not_found"),
        ({"teacher_id": str(uuid.uuid4())}, 422, "courses_teacher_not_found"),
        ({"teacher_id": w.ids["student"]}, 422, "courses_teacher_not_found"),  # a student teaches no section
        ({"teacher_id": w.ids["school_a"]}, 422, "courses_teacher_not_found"),
        ({"teacher_name": None}, 422, "courses_teacher_name_required"),
        ({"capacity": -1}, 422, "validation_failed"),
        ({"capacity": 10001}, 422, "validation_failed"),
        ({"capacity": 2.5}, 422, "validation_failed"),
        ({"meetings": [meeting(friday, "09:00:00", "11:00:00")]}, 422, "courses_meeting_outside_blocks"),
        ({"meetings": [meeting(date(2027, 7, 3), "09:00:00", "11:00:00")]}, 422, "courses_meeting_outside_blocks"),  # after the term
        ({"meetings": [meeting(SATURDAY, "11:00:00", "09:00:00")]}, 422, "courses_meeting_order"),
        ({"meetings": [meeting(SATURDAY, "09:00:00", "09:00:00")]}, 422, "courses_meeting_order"),
        ({"meetings": [{"starts_at": "2027-03-06T09:00:00", "ends_at": "2027-03-06T11:00:00"}]}, 422, "validation_failed"),  # no zone
        ({"meetings": [meeting(SATURDAY, "09:00:00", "11:00:00"), meeting(SATURDAY, "10:00:00", "12:00:00")]}, 422,
         "courses_meetings_overlap"),
        ({"weekly": weekly(weekday="monday")}, 422, "courses_meeting_outside_blocks"),
        ({"weekly": weekly(block_id=_block(other_term, "weekends"))}, 422, "courses_block_not_found"),
        ({"weekly": weekly(ends="08:00")}, 422, "courses_weekly_pattern_invalid"),
        ({"weekly": weekly(starts="09:00+00:00")}, 422, "courses_weekly_pattern_invalid"),
        ({"weekly": weekly(block_id=_block(term, "winter"), weekday="sunday", skip=["2027-02-07", "2027-02-14"])}, 422,
         "courses_weekly_pattern_invalid"),
        ({"weekly": weekly(weekday="caturday")}, 422, "validation_failed"),
        ({"weekly": weekly() * 2, "meetings": []}, 422, "courses_meetings_overlap"),
        ({"place": "科学楼\u0000301"}, 422, "validation_failed"),
        ({"code": "S" * 41}, 422, "validation_failed"),
        ({"teacher_name": "老" * 201}, 422, "validation_failed"),
        ({"taken": 3}, 422, "validation_failed"),
    ]
    for extra, status, expected in bad:
        r = await call(w, "staff", "POST", "/sections", json=_section_body(course, term, **{"code": code, **extra}))
        assert (r.status_code, r.json().get("code")) == (status, expected), (extra, r.text)
    assert await _count(w, Section, Section.code == code) == 0
    assert await _count(w, SectionMeeting, SectionMeeting.section_id.in_(
        sa.select(Section.id).where(Section.term_id == uuid.UUID(term["id"])))) == 0
    first = await call(w, "staff", "POST", "/sections", json=_section_body(course, term, code=code))
    assert first.status_code == 201, first.text
    problem(await call(w, "staff", "POST", "/sections", json=_section_body(course, term, code=code)), 409, "courses_section_code_taken")
    # The same code in another term is another section.
    assert (await call(w, "staff", "POST", "/sections", json=_section_body(course, other_term, code=code))).status_code == 201
    for who in ("coordinator", "student", "mentor"):
        problem(await call(w, who, "POST", "/sections", json=_section_body(course, term)), 403, "forbidden")


async def test_a_section_changes_its_host_and_teacher_with_the_etag_read_never_its_capacity(w):
    course, term = await _course(w), await _term(w)
    section = (await call(w, "staff", "POST", "/sections", json=_section_body(course, term))).json()
    path = f"/sections/{section['id']}"
    etag = (await call(w, "student", "GET", path)).headers["ETag"]
    problem(await _send(w, "staff", "PATCH", path, {"capacity": 50}, etag), 422, "validation_failed")
    problem(await _send(w, "staff", "PATCH", path, {"place": "图书馆"}), 428, "precondition_required")
    problem(await _send(w, "staff", "PATCH", path, {"host_kind": "school"}, etag), 422, "courses_host_invalid")
    problem(await _send(w, "staff", "PATCH", path, {"host_kind": "partner", "host_id": w.ids["school_b"]}, etag), 422,
            "courses_host_not_found")
    problem(await _send(w, "staff", "PATCH", path, {"teacher_id": w.ids["guardian"]}, etag), 422, "courses_teacher_not_found")
    problem(await _send(w, "staff", "PATCH", path, {"place": None}, etag), 422, "courses_field_not_nullable")
    problem(await _send(w, "coordinator", "PATCH", path, {"place": "图书馆"}, etag), 403, "forbidden")
    assert (await call(w, "staff", "GET", path)).json() == section
    moved = await _send(w, "staff", "PATCH", path, {"host_kind": "partner", "host_id": w.ids["university"], "teacher_id": w.ids["mentor"]},
                        etag)
    assert moved.status_code == 200, moved.text
    got = moved.json()
    assert (got["host_kind"], got["host_id"], got["teacher_id"], got["capacity"]) == ("partner", w.ids["university"], w.ids["mentor"], 30)
    assert got["host_name"].startswith("matrix university") and got["teacher_name"] != "林老师"
    problem(await _send(w, "staff", "PATCH", path, {"place": "图书馆"}, etag), 412, "precondition_failed")
    back = await _send(w, "staff", "PATCH", path, {"host_kind": "base", "teacher_id": None, "teacher_name": "林老师"}, moved.headers["ETag"])
    assert back.status_code == 200, back.text
    assert (back.json()["host_kind"], back.json()["host_id"], back.json()["teacher_id"], back.json()["teacher_name"]) == (
        "base", None, None, "林老师")
    entries = await chain.entries(w.tx.session, table=Section.__table__, row_id=uuid.UUID(section["id"]))
    assert [e.kind for e in entries] == ["section.created", "section.changed", "section.changed"]
    assert entries[1].payload["fields"] == ["host_id", "host_kind", "teacher_id", "teacher_name"]


async def test_a_sections_meetings_are_replaced_by_a_weekly_pattern_with_the_sections_etag(w):
    course, term = await _course(w), await _term(w)
    section = (await call(w, "staff", "POST", "/sections", json=_section_body(course, term))).json()
    path = f"/sections/{section['id']}/meetings"
    etag = (await call(w, "staff", "GET", f"/sections/{section['id']}")).headers["ETag"]
    sundays = {"weekly": [{"block_id": _block(term, "weekends"), "weekday": "sunday", "starts": "14:00", "ends": "16:30"}]}
    problem(await _send(w, "staff", "PUT", path, sundays), 428, "precondition_required")
    problem(await _send(w, "staff", "PUT", path, {"meetings": [{"starts_at": _at(SATURDAY - timedelta(days=1), 9),
                                                                "ends_at": _at(SATURDAY - timedelta(days=1), 10)}]}, etag),
            422, "courses_meeting_outside_blocks")
    problem(await _send(w, "staff", "PUT", f"/sections/{uuid.uuid4()}/meetings", sundays, "*"), 404, "courses_section_not_found")
    problem(await _send(w, "student", "PUT", path, sundays, etag), 403, "forbidden")
    assert (await call(w, "staff", "GET", f"/sections/{section['id']}")).json()["meetings"] == section["meetings"]
    done = await _send(w, "staff", "PUT", path, sundays, etag)
    assert done.status_code == 200, done.text
    meetings = done.json()["meetings"]
    assert meetings and all(datetime.fromisoformat(m["starts_at"]).astimezone(CHINA).weekday() == 6 for m in meetings)
    assert done.headers["ETag"] != etag
    problem(await _send(w, "staff", "PUT", path, sundays, etag), 412, "precondition_failed")
    same = await _send(w, "staff", "PUT", path, sundays, done.headers["ETag"])
    assert same.status_code == 200 and same.headers["ETag"] == done.headers["ETag"] and same.json()["meetings"] == meetings
    assert await _kinds(w, Section.__table__, section["id"]) == ["section.created", "section.meetings_set"]
    assert await _count(w, SectionMeeting, SectionMeeting.section_id == uuid.UUID(section["id"])) == len(meetings)


async def test_a_change_to_a_taken_term_title_or_section_code_is_refused_and_nothing_changes(w):
    term, other = await _term(w), await _term(w)
    path = f"/terms/{term['id']}"
    etag = (await call(w, "staff", "GET", path)).headers["ETag"]
    problem(await _send(w, "staff", "PATCH", path, {"title": other["title"]}, etag), 409, "courses_term_title_taken")
    course = await _course(w)
    a = (await call(w, "staff", "POST", "/sections", json=_section_body(course, term))).json()
    b = (await call(w, "staff", "POST", "/sections", json=_section_body(course, term, meetings=[]))).json()
    section_etag = (await call(w, "staff", "GET", f"/sections/{b['id']}")).headers["ETag"]
    problem(await _send(w, "staff", "PATCH", f"/sections/{b['id']}", {"code": a["code"]}, section_etag), 409, "courses_section_code_taken")
    assert (await call(w, "staff", "GET", path)).json()["title"] == term["title"]
    assert (await call(w, "staff", "GET", f"/sections/{b['id']}")).json()["code"] == b["code"]
    assert await _kinds(w, Term.__table__, term["id"]) == ["term.created"]
    assert await _kinds(w, Section.__table__, b["id"]) == ["section.created"]
