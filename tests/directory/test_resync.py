"""A service that starts after people exist loads them from the gateway, misses none of the changes
made while it loads, and a resync replaces a stale read model with the gateway's directory."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select

from services.selection.app import create_app as selection_app
from services.selection.db import directory
from services.selection.settings import SelectionSettings
from shared.directory.store import apply
from shared.directory import sync
from shared.directory.sync import SNAPSHOT, resync
from shared.events.contracts import identity as ev
from tests.directory.conftest import DirectoryWorld
from tests.events.support import wait_until
from tests.identity.factories import id_number
from tests.servers import serve

STUDENTS = 200
ROOT = Path(__file__).resolve().parents[2]


def roster(n: int) -> bytes:
    """A school's spreadsheet: n students, each with a guardian."""
    rng = random.Random(7)
    lines = ["name,id_number,grade,guardian_name,guardian_phone,relation"]
    for i in range(n):
        born = datetime(2011 + i % 4, 1 + i % 12, 1 + i % 28).date()
        lines.append(f"学生{i:03d},{id_number(born, seq=i % 1000, region=rng.choice(('350203', '350206')))},{5 + i % 4},家长{i:03d},139{i:08d},mother")
    return ("\n".join(lines) + "\n").encode()


async def import_roster(w: DirectoryWorld, n: int) -> None:
    r = await w.http.post(
        "/identity/imports/students", params={"school_id": w.school_id},
        files={"file": ("roster.csv", roster(n), "text/csv")},
    )
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == n, r.text


async def snapshot(w: DirectoryWorld) -> dict[str, set[tuple]]:
    """The gateway's directory, read as a service reads it."""
    token = await w.service_token()
    out: dict[str, set[tuple]] = {}
    async with httpx.AsyncClient(base_url=w.gateway_url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for path, kind in SNAPSHOT:
            rows: set[tuple] = set()
            cursor = None
            while True:
                r = await http.get(path, params={"limit": 200, **({"cursor": cursor} if cursor else {})})
                assert r.status_code == 200, r.text
                rows |= {_row(kind.model_validate(item).model_dump()) for item in r.json()["items"]}
                cursor = r.json()["next_cursor"]
                if not cursor:
                    break
            out[kind.__name__] = rows
    return out


def _row(values: dict) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items()))


async def read_model(w: DirectoryWorld) -> dict[str, set[tuple]]:
    """What the selection service's read model holds now: the records in force, as the snapshot lists them."""
    out: dict[str, set[tuple]] = {}
    async with w.engine.connect() as conn:
        for _, kind in SNAPSHOT:
            from shared.directory.store import table_for

            table = table_for(directory.tables, kind)
            stmt = select(table)
            if kind is ev.GuardianLinkRecord:
                stmt = stmt.where(table.c.linked.is_(True))
            if kind is ev.ConsentRecord:
                stmt = stmt.where(table.c.ended_at.is_(None))
            fields = kind.model_fields
            out[kind.__name__] = {
                _row({k: v for k, v in r.items() if k in fields}) for r in (await conn.execute(stmt)).mappings()
            }
    return out


async def test_a_service_started_after_an_import_knows_every_student_and_loses_no_change_made_while_it_loads(
    directory_world: DirectoryWorld, monkeypatch,
):
    w = directory_world
    await import_roster(w, STUDENTS)
    r = await w.http.get("/identity/students", params={"limit": 200})
    students = r.json()["items"]
    assert len(students) == STUDENTS

    # Writes at the gateway from before the service starts until after it is ready: renames,
    # grade changes, guardians unlinked, students registered.
    done = asyncio.Event()
    changes = {"renamed": 0, "unlinked": 0, "registered": 0}
    written_at: list[float] = []

    async def writer() -> None:
        rng = random.Random(11)
        n = 0
        while not done.is_set():
            n += 1
            victim = rng.choice(students)
            kind = n % 3
            if kind == 0:
                r = await w.http.patch(
                    f"/identity/users/{victim['id']}", json={"display_name": f"改名{n}", "grade": 5 + n % 4},
                    headers={"If-Match": "*"},
                )
                assert r.status_code == 200, r.text
                changes["renamed"] += 1
            elif kind == 1:
                student = (await w.http.get(f"/identity/students/{victim['id']}")).json()
                for g in student["guardians"]:
                    r = await w.http.delete(f"/identity/students/{victim['id']}/guardians/{g['guardian_id']}")
                    assert r.status_code == 204, r.text
                    changes["unlinked"] += 1
            else:
                r = await w.http.post("/identity/users", json={
                    "username": f"late-{n}-{uuid.uuid4().hex[:6]}", "display_name": f"新生{n}", "roles": ["student"],
                    "school_id": w.school_id, "grade": 6,
                })
                assert r.status_code == 201, r.text
                changes["registered"] += 1
            written_at.append(time.time())

    # When the load reads each page (observed, not changed).
    pages_read: list[float] = []
    read_pages = sync._pages

    async def observed_pages(*args, **kwargs):
        async for page in read_pages(*args, **kwargs):
            pages_read.append(time.time())
            yield page

    monkeypatch.setattr(sync, "_pages", observed_pages)
    writing = asyncio.create_task(writer())
    await asyncio.sleep(0.2)
    # Small pages, so the load takes many requests while the writes go on.
    app = selection_app(w.service_settings(SelectionSettings, directory_page_size=10))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as service:
        async def ready() -> bool:
            return (await service.get("/readyz")).status_code == 200

        await wait_until(ready, timeout=60, what="the selection service loads its directory")
        await asyncio.sleep(0.3)
        done.set()
        await writing
        assert all(changes.values()), changes
        # Some of those writes committed while the load was reading the gateway's pages.
        window = (min(pages_read), max(pages_read))
        assert len(pages_read) > 40 and any(window[0] < t < window[1] for t in written_at), (window, written_at)

        # After the last write's event is applied, the read model is the gateway's directory, exactly.
        expected = await snapshot(w)

        async def same() -> bool:
            return await read_model(w) == expected

        await wait_until(same, timeout=10, what="the read model equals the gateway's directory")
        got = await read_model(w)
        assert len([r for r in got["PersonRecord"] if ("roles", ("student",)) in r]) == STUDENTS + changes["registered"]

        status = (await service.get("/directory/status", headers={"Authorization": f"Bearer {await w.service_token()}"})).json()
        assert status["loaded"] is True and status["people"] == len(expected["PersonRecord"])


async def test_a_resync_replaces_a_stale_read_model_and_keeps_what_events_applied_since(directory_world: DirectoryWorld):
    w = directory_world
    await import_roster(w, 20)
    settings = w.service_settings(SelectionSettings)
    first = await resync(w.engine, directory, settings, page_size=7)
    assert first.loaded["people"] == 20 * 2 + 1 and first.loaded["guardian-links"] == 20 and first.pages >= 3
    # A restored backup's leftovers: a person, a link and a consent the gateway no longer has.
    ghost, child = uuid.uuid4(), uuid.uuid4()
    async with w.engine.begin() as conn:
        await apply(conn, directory.tables, [ev.PersonRecord(version=1, person_id=ghost, display_name="gone", roles=["student"])])
        await apply(conn, directory.tables, [ev.GuardianLinkRecord(version=1, guardian_id=ghost, student_id=child, relation="father")])
        await apply(conn, directory.tables, [ev.ConsentRecord(
            version=1, consent_id=uuid.uuid4(), student_id=child, purpose="participation", guardian_id=ghost,
            given_at=datetime.now(UTC))])
    again = await resync(w.engine, directory, settings)
    assert again.removed == {
        "directory_person": 1, "directory_school": 0, "directory_partner": 0,
        "directory_guardian_link": 1, "directory_consent": 1,
    }
    assert await read_model(w) == await snapshot(w)
    async with w.engine.connect() as conn:
        # The ended link and consent stay as ended, so a late event cannot bring them back.
        t = directory.tables
        assert (await conn.execute(select(t.guardian_link.c.linked).where(t.guardian_link.c.student_id == child))).scalar() is False
        assert (await conn.execute(select(func.count()).select_from(t.sync))).scalar() == 1
    # only_if_empty: a loaded read model is left alone.
    assert (await resync(w.engine, directory, settings, only_if_empty=True)).skipped


async def test_sprout_directory_resync_and_status_from_the_command_line(directory_world: DirectoryWorld):
    w = directory_world
    await import_roster(w, 5)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPROUT_")}
    env.update(
        SPROUT_ENV="test", SPROUT_DATABASE_URL=w.database_url, SPROUT_GATEWAY_URL=w.gateway_url,
        SPROUT_SERVICE_CLIENT_ID=w.client_id, SPROUT_SERVICE_CLIENT_SECRET=w.client_secret,
    )

    async def sprout(*args: str, **extra: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", *args, env={**env, **extra}, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode, out.decode(), err.decode()

    code, out, err = await sprout("directory", "resync", "courses", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["loaded"]["people"] == 11 and report["loaded"]["guardian-links"] == 5 and not report["skipped"]
    code, out, err = await sprout("directory", "status", "courses", "--json")
    assert code == 0, err
    status = json.loads(out)
    assert status["loaded"] is True and status["people"] == 11 and status["guardian_links"] == 5
    # A wrong secret: refused by the gateway, said in one line, nothing changed.
    code, out, err = await sprout("directory", "resync", "courses", SPROUT_SERVICE_CLIENT_SECRET="not-the-secret")
    assert code == 1 and "sprout directory resync courses:" in err and "Traceback" not in err, err
    # Not a service with a directory.
    code, out, err = await sprout("directory", "resync", "gateway")
    assert code == 2 and "invalid choice" in err
