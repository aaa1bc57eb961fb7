"""A year's selection through the gateway with real tokens and real HTTP servers: 10 schools, 200
candidates (both kinds of nomination, three merged, one withdrawn), a bad scores file refused
whole, the tests uploaded, the ranking, decisions (one against the ranking), publication, an
objection answered, the final results, and the admitted events reaching a consumer that runs in
another process.

The expert interview (assignment, rubric scoring, correction) is not in this campaign yet: the
discipline weights give it 0, so the composite is the two tests'. The services run in this
process on a clock set nine days back, so the seven-day objection window can close by moving it
to the present; the other process reads the final events on the real clock."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from openpyxl import Workbook

from services.gateway.app import create_app as gateway_app
from services.gateway.identity import admin as identity_admin
from services.gateway.settings import GatewaySettings
from services.selection.app import create_app as selection_app
from services.selection.settings import SelectionSettings
from shared import clock
from tests.conftest import fresh_database
from tests.identity.factories import id_number
from tests.servers import bound_socket, serve

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long story passphrase 3"
SCHOOLS, IMPORTED = 10, 19
WITHIN = 30.0


def _sheet(school: int) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "身份证号", "年级", "监护人姓名", "监护人电话", "关系"])
    for i in range(IMPORTED):
        born = date(2012 + i % 3, 1 + i % 12, 1 + i % 28)
        sheet.append([f"学生{school}{i:02d}", id_number(born, region="350203", seq=school * 50 + i), 5 + i % 3,
                      f"家长{school}{i:02d}", f"139{school:02d}00{i:04d}", "母亲"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _eventually(check, what: str):
    started = time.monotonic()
    while True:
        value = await check()
        if value:
            print(f"{what}: {(time.monotonic() - started) * 1000:.0f} ms")
            return value
        assert time.monotonic() - started < WITHIN, f"not within {WITHIN}s: {what}"
        await asyncio.sleep(0.1)


def _csv(rows: list[tuple[str, object]]) -> dict:
    text = "候选人编号,成绩\n" + "".join(f"{c},{s}\n" for c, s in rows)
    return {"file": ("scores.csv", text.encode(), "text/csv")}


async def test_a_years_selection_from_nomination_to_the_admitted_events(server_url, worker_id, tmp_path):
    async with fresh_database(server_url, worker_id) as url, AsyncExitStack() as stack:
        gw_sock, gw_url = bound_socket()
        sel_sock, sel_url = bound_socket()
        gsettings = GatewaySettings(database_url=url, env="test", rate_limit_enabled=False, selection_url=sel_url)
        await identity_admin.create_user(url, gsettings, username="bureau-admin", roles=["admin"], password=PASSWORD, display_name="Bureau")
        await identity_admin.create_user(url, gsettings, username="base-staff", roles=["staff"], password=PASSWORD, display_name="Base staff")
        # Nine days ago, for everything in this process (tokens keep the real time).
        stack.enter_context(clock.use_clock(clock.FrozenClock(datetime.now(UTC) - timedelta(days=9))))
        await stack.enter_async_context(serve(gateway_app(gsettings), gw_sock))
        await stack.enter_async_context(serve(selection_app(SelectionSettings(
            database_url=url, env="test", gateway_url=gw_url, jwks_url=f"{gw_url}/.well-known/jwks.json",
            events_poll_interval=0.2, directory_bootstrap=False,
        )), sel_sock))

        # The consumer in another process, subscribed before anything is published.
        out = tmp_path / "admitted.txt"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPROUT_")} | {"SPROUT_DATABASE_URL": url}
        consumer = subprocess.Popen([sys.executable, "-m", "tests.selection_story.admitted_consumer", str(out), "120"],
                                    cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        stack.callback(consumer.kill)
        assert consumer.stdout.readline().strip() == "subscribed"

        http = await stack.enter_async_context(httpx.AsyncClient(base_url=gw_url, timeout=30, trust_env=False))

        async def login(username: str) -> dict[str, str]:
            r = await http.post("/auth/token", data={"grant_type": "password", "username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        admin, staff = await login("bureau-admin"), await login("base-staff")
        sel = "/api/selection"

        # Ten schools, each with its list imported, a coordinator, and one student with an account who nominates themself.
        schools, coordinators, selfers = [], [], []
        for i in range(SCHOOLS):
            r = await http.post("/identity/schools", json={"name": f"第{i + 1}中学", "district": "思明区", "level": "middle"}, headers=admin)
            school = r.json()["id"]
            schools.append(school)
            r = await http.post("/identity/imports/students", params={"school_id": school}, headers=admin,
                                files={"file": ("名单.xlsx", _sheet(i), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")})
            assert r.status_code == 200 and r.json()["imported"] == IMPORTED, r.text
            for role, name, extra in (("coordinator", f"coord{i}", {}), ("student", f"self{i}", {"grade": 8, "birth_date": "2011-03-01"})):
                r = await http.post("/identity/users", headers=admin, json={
                    "username": name, "display_name": f"{role} {i}号", "roles": [role], "school_id": school, "password": PASSWORD, **extra,
                })
                assert r.status_code == 201, r.text
                (coordinators if role == "coordinator" else selfers).append((r.json()["id"], await login(name)))

        async def known() -> bool:
            seen, cursor = 0, None
            while True:
                r = await http.get(f"{sel}/directory/students", params={"limit": 200, **({"cursor": cursor} if cursor else {})}, headers=admin)
                seen += len(r.json()["items"])
                cursor = r.json()["next_cursor"]
                if not cursor:
                    return seen == SCHOOLS * (IMPORTED + 1)

        await _eventually(known, "selection's read model holds the 200 students")

        weights = {"iq_test": 1, "written_test": 2, "interview": 0}
        r = await http.post(f"{sel}/campaigns", headers=staff, json={
            "year": 2027, "title": "2027年拔尖创新人才早期培养选拔", "school_limit": 20, "objection_days": 7,
            "disciplines": [{"discipline": d, "quota": 10, "min_grade": 4, "max_grade": 9, "weights": weights} for d in ("math", "physics")],
        })
        assert r.status_code == 201, r.text
        campaign = r.json()["id"]
        assert (await http.post(f"{sel}/campaigns/{campaign}/advance", json={"to": "nomination"}, headers=staff)).status_code == 200

        nominations = 0
        for i, (school, (_, coordinator)) in enumerate(zip(schools, coordinators)):
            r = await http.get(f"{sel}/directory/students", params={"school_id": school, "limit": 200}, headers=coordinator)
            students = [s["id"] for s in r.json()["items"] if s["id"] != selfers[i][0]]
            assert len(students) == IMPORTED
            for j, student in enumerate(students):
                r = await http.post(f"{sel}/campaigns/{campaign}/nominations", headers=coordinator, json={
                    "source": "school", "student_id": student, "discipline": ("math", "physics")[j % 2],
                    "statement": "A strong student recommended by the school's science teachers.",
                })
                assert r.status_code == 201, r.text
                nominations += 1
        for i, (student, token) in enumerate(selfers):
            discipline = ("math", "physics")[i % 2]
            r = await http.post(f"{sel}/campaigns/{campaign}/nominations", headers=token, json={
                "source": "self", "discipline": discipline, "statement": "I want to do research in this subject.",
                "achievements": [{"title": "市级竞赛一等奖", "year": 2026, "level": "city"}],
            })
            assert r.status_code == 201, r.text
            nominations += 1
            if i < 3:  # the school recommends them too: one candidate, two sources
                r = await http.post(f"{sel}/campaigns/{campaign}/nominations", headers=coordinators[i][1], json={
                    "source": "school", "student_id": student, "discipline": discipline, "statement": "We recommend them as well.",
                })
                assert r.status_code == 201 and len(r.json()["nominations"]) == 2, r.text
                nominations += 1
        assert nominations == 203
        withdrawn = (await http.get(f"{sel}/campaigns/{campaign}/candidates", headers=selfers[9][1])).json()["items"][0]["id"]
        r = await http.post(f"{sel}/candidates/{withdrawn}/withdraw", json={"reason": "I am moving to another city."}, headers=selfers[9][1])
        assert r.status_code == 200, r.text

        r = await http.post(f"{sel}/campaigns/{campaign}/advance", json={"to": "iq_test", "reason": "All schools have sent their nominations."}, headers=staff)
        assert r.status_code == 200, r.text
        candidates = []
        r = await http.get(f"{sel}/campaigns/{campaign}/candidates", params={"limit": 200, "status": "active"}, headers=staff)
        candidates = [c["id"] for c in r.json()["items"]]
        assert len(candidates) == 199 and not r.json()["next_cursor"]

        # A file with one score out of the scale is refused whole.
        bad = [(c, 100 + k % 50) for k, c in enumerate(candidates)]
        bad[57] = (bad[57][0], 170)
        r = await http.post(f"{sel}/campaigns/{campaign}/assessments/iq_test/upload", files=_csv(bad), headers=staff)
        assert r.status_code == 422 and r.json()["code"] == "sheet_rejected" and [e["line"] for e in r.json()["errors"]] == [59], r.text
        assert (await http.get(f"{sel}/campaigns/{campaign}/assessments/iq_test", headers=staff)).json()["items"] == []
        for stage, rows in (("iq_test", [(c, 90 + (k * 7) % 70) for k, c in enumerate(candidates)]),
                            ("written_test", [(c, 40 + (k * 13) % 60) for k, c in enumerate(candidates)])):
            r = await http.post(f"{sel}/campaigns/{campaign}/assessments/{stage}/upload", files=_csv(rows), headers=staff)
            assert r.status_code == 200 and r.json()["taken"] == 199, r.text
            nxt = {"iq_test": "written_test", "written_test": "interview"}[stage]
            assert (await http.post(f"{sel}/campaigns/{campaign}/advance", json={"to": nxt}, headers=staff)).status_code == 200
        r = await http.post(f"{sel}/campaigns/{campaign}/advance", headers=staff,
                            json={"to": "decision", "reason": "This campaign's interview is not weighed: no panels sit."})
        assert r.status_code == 200, r.text

        admitted = set()
        for discipline in ("math", "physics"):
            ranking = (await http.get(f"{sel}/campaigns/{campaign}/ranking", params={"discipline": discipline}, headers=staff)).json()
            assert [x["rank"] for x in ranking] == list(range(1, len(ranking) + 1))
            composites = [float(x["composite"]) for x in ranking]
            assert composites == sorted(composites, reverse=True)
            for x in ranking:
                body = {"outcome": x["proposal"]}
                if discipline == "math" and x["rank"] == 11:  # the first on the waiting list, admitted against the ranking
                    body = {"outcome": "admitted", "reason": "The bureau added a place for math by letter."}
                r = await http.put(f"{sel}/candidates/{x['candidate_id']}/decision", json=body, headers=staff)
                assert r.status_code == 200, r.text
                if r.json()["outcome"] == "admitted":
                    admitted.add(x["candidate_id"])
        assert len(admitted) == 21
        assert (await http.post(f"{sel}/campaigns/{campaign}/advance", json={"to": "publication"}, headers=staff)).status_code == 200

        listed = (await http.get(f"{sel}/campaigns/{campaign}/published", headers=coordinators[0][1])).json()
        assert {x["candidate_id"] for x in listed} == admitted
        assert all("*" in x["name"] and x["school"].startswith("第") for x in listed)
        target = listed[0]["candidate_id"]
        r = await http.post(f"{sel}/candidates/{target}/objections", json={"reason": "Please show how this result was reached."}, headers=coordinators[0][1])
        assert r.status_code == 201, r.text
        objection = r.json()["id"]

        # Seven days later: the window has closed; the objection is answered, the results become final.
        clock.get_clock().set(datetime.now(UTC))
        r = await http.post(f"{sel}/campaigns/{campaign}/advance", json={"to": "final"}, headers=staff)
        assert r.status_code == 409 and "1 objection(s) unanswered" in r.json()["detail"], r.text
        r = await http.post(f"{sel}/objections/{objection}/answer", json={"answer": "The scores and the weights are in the explanation."}, headers=staff)
        assert r.status_code == 200, r.text
        r = await http.post(f"{sel}/campaigns/{campaign}/advance", json={"to": "final"}, headers=staff)
        assert r.status_code == 200, r.text

        students = {}
        for c in admitted:
            students[(await http.get(f"{sel}/candidates/{c}", headers=staff)).json()["student_id"]] = c

        async def delivered():
            return out.exists() and set(out.read_text().split()) == set(students)

        await _eventually(delivered, "the admitted events reach the consumer in another process")
        ex = (await http.get(f"{sel}/candidates/{target}/explanation", headers=staff)).json()
        assert ex["outcome"] == "admitted" and ex["quota"] == 10 and ex["cut_off"] is not None
        verified = (await http.get(f"{sel}/record/verify", headers=admin)).json()
        assert verified["ok"] is True and verified["entries"] > 600, verified
