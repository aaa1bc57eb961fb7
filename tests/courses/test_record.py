"""The courses service's tamper-evident record: every catalogue change, application and decision is
on it, and a row altered outside the service is named."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from tests.courses.support import call


async def test_the_record_names_a_course_altered_by_sql(w):
    r = await call(w, "admin", "GET", "/record/verify")
    assert r.status_code == 200 and r.json()["ok"] is True, r.json()
    assert r.json()["entries"] > 0
    assert (await call(w, "staff", "GET", "/record/verify")).status_code == 403
    course = uuid.UUID(w.ids["course_basic"])
    await w.tx.session.execute(text("UPDATE courses.course SET hours = hours + 1 WHERE id = :id"), {"id": course})
    found = (await call(w, "admin", "GET", "/record/verify")).json()
    assert found["ok"] is False
    assert [(f["reason"], f["table"], f["row_id"], f["columns"]) for f in found["findings"]] == [
        ("row_altered", "course", str(course), ["hours"])
    ]
