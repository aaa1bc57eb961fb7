"""Registration day: N students (20,000) registering at once through the gateway for 40 sections, against a bare UPDATE endpoint.

Real processes on a scratch database (`sprout serve`, one uvicorn worker each): the gateway,
and one courses replica behind it. Setup, timed apart from the run (tests/courses/crowd.py,
shared with tests/courses/test_registration_load.py): `--students` students of one school in
courses' directory read model (the directory consumer's own upsert) and admitted to the
programme (the programme consumer's handler, once per student); one term whose window is open
to all; `--sections` sections of `--capacity` seats (40 x 400 = 16,000 seats), each meeting at
its own hour. Each student picks one section, popular ones more often (section k drawn with
weight 1/sqrt(k+1), fixed seed), so some sections fill with waitlists and others do not.

Tokens: one access token per student, signed in this process by the gateway's own issuer
(services/gateway/tokens/service.py `Issuer`) with the gateway's key from the database, the
key the gateway process made and verifies with: what a password sign-in would hand out,
without 20,000 sign-ins (what is measured is registration, not login).

Two runs of the same requests in the same run of the benchmark, each once (the seats are
consumed), `--concurrency` connections in flight, each sending its next request as soon as
its answer arrives (tests/perf/load.py `run_list`, this process's only work while it runs):

  bare   POST /take {"section_id"} at a bare FastAPI + asyncpg app
         (tests/perf/registration_bare.py), the one conditional UPDATE of courses' `take_seat`
         on a scratch copy of the sections, with a pool the size of a courses replica's
  full   POST /api/courses/registrations {"section_id"} at the gateway with the student's
         token and an Idempotency-Key, as an app sends it: token checks at the gateway and at
         courses, every registration check, the seat, the waitlist, the record chain, the
         event, the idempotency key, the answer with the waitlist position

Afterwards, SQL checks the full run: no section with taken > capacity, each section's
confirmed registrations == its taken, no student twice in a section, one registration per
request, the client's confirmed answers == the confirmed rows. Figures
(`.sprout/bench/registration.json`):

  registration_throughput  confirmed registrations per second of wall clock, first request
                           to last answer, versus the bare endpoint's; target ratio above 0.4
  registration_p99         ms per request at the client, 99th percentile; target below 300
  oversold                 seats taken beyond capacity plus sections whose confirmed count
                           differs from taken plus students twice in a section; target zero

The p50s, the waitlisted counts, answered requests per second and each process's CPU seconds
are in the details. On the two-core machine the client, the gateway, courses and PostgreSQL
share the cores, and the bare run's server and client share them as well. Measured there (3,000
students, 4 sections): the bare endpoint ~1,700 confirmed/s, the full stack ~50 (ratio 0.03),
courses spending ~13 ms of CPU per registration; with the registration's chain appends taken
out (an uncommitted experiment) ~51/s: the chain's lock is not what holds it down. At that
rate the default 20,000 students take over five minutes; `--students 3000` takes under one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from tests.perf.harness import (
    Comparison, Figure, Machine, Target, cpu_seconds, exit_on_sigterm, free_port, scratch_database, service_process,
    write_figures,
)

TARGET_RATIO = 0.4
TARGET_P99_MS = 300.0
GRADE = 8
# However slow the stack, a run is abandoned this long after its first request (measured: the full
# stack answers ~65 registrations/s on two cores, so 20,000 take about five minutes).
RUN_TIMEOUT_S = 420.0


# ---------------------------------------------------------------- setup


async def _setup(url: str, students: list[uuid.UUID], sections: int, capacity: int) -> dict:
    """The crowd and the sections (tests/courses/crowd.py) in one transaction, and the bare endpoint's copy of the sections."""
    from datetime import timedelta

    from sqlalchemy import text

    from services.cli import SERVICES
    from shared import clock
    from shared.db import create_engine, sessionmaker
    from shared.events.worker import load_consumers, register_subscriptions
    from shared.tokens import Principal
    from tests.courses.crowd import enrol, open_sections

    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        # As `sprout migrate` does: every consumer's subscriptions exist, so publishing fans out as in production.
        await register_subscriptions(engine, load_consumers(s.consumers for s in SERVICES.values()))
        school = uuid.uuid4()
        staff = Principal(id=str(uuid.uuid4()), kind="user", roles=frozenset({"staff"}))
        now = clock.now()
        async with sessionmaker(engine)() as s, s.begin():
            await enrol(s, students, school, grade=GRADE, at=now - timedelta(days=1))
            opened = await open_sections(s, staff, sections=sections, capacity=capacity, now=now)
        ids = [row.id for row in opened.sections]
        async with engine.begin() as conn:
            await conn.execute(text("CREATE SCHEMA bench_registration"))
            await conn.execute(text("CREATE TABLE bench_registration.section (id uuid PRIMARY KEY, capacity integer NOT NULL, "
                                    "taken integer NOT NULL DEFAULT 0, CHECK (taken BETWEEN 0 AND capacity))"))
            await conn.execute(text("INSERT INTO bench_registration.section (id, capacity) SELECT id, capacity FROM courses.section "
                                    "WHERE term_id = :term"), {"term": opened.term.id})
        return {"school": school, "term": opened.term.id, "sections": ids}
    finally:
        await engine.dispose()


async def _tokens(url: str, students: list[uuid.UUID], school: uuid.UUID) -> list[str]:
    """An access token per student, signed by the gateway's issuer with the gateway's key (read from the database)."""
    from services.gateway.settings import GatewaySettings
    from services.gateway.tokens.keys import KeyStore
    from services.gateway.tokens.service import Issuer
    from shared.crypto import cipher_for
    from shared.db import create_engine, sessionmaker

    settings = GatewaySettings(database_url=url)
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        keys = KeyStore(sessionmaker(engine), cipher_for(settings), refresh_seconds=settings.signing_key_cache_seconds)
        await keys.load()
        issuer = Issuer(settings, keys)
        extra = {"school_id": str(school)}
        return [(await issuer.access_token(subject=str(p), kind="user", roles=["student"], name="学生", extra=extra))[0]
                for p in students]
    finally:
        await engine.dispose()


def _post(host: str, path: str, body: dict, headers: dict[str, str]) -> bytes:
    data = json.dumps(body).encode()
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "User-Agent: sprout-bench", "Content-Type: application/json",
             f"Content-Length: {len(data)}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


# ---------------------------------------------------------------- a run


def _drive(base: str, requests: list[bytes], concurrency: int, pids: dict[str, int]) -> dict:
    """The requests at `base`, and what each process spent meanwhile."""
    from urllib.parse import urlsplit

    from tests.perf.load import run_list

    parts = urlsplit(base)
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    try:
        import uvloop
    except ImportError:
        answers, seconds = asyncio.run(run_list(parts.hostname, parts.port, requests, concurrency, RUN_TIMEOUT_S))
    else:
        answers, seconds = uvloop.run(run_list(parts.hostname, parts.port, requests, concurrency, RUN_TIMEOUT_S))
    after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    cpu = {name: round(after[name] - before[name], 1) for name in pids if None not in (before[name], after[name])}
    return {"answers": answers, "seconds": seconds, "cpu_s": cpu}


def _summary(run: dict, confirmed_of) -> dict:
    """Counts, confirmed per second, answered per second, p50 and p99 of one run."""
    answers, seconds = run["answers"], run["seconds"]
    done = [a for a in answers if a is not None]
    latencies = sorted(a[1] for a in done)
    statuses: dict[int, int] = {}
    outcomes: dict[str, int] = {}
    for status, _, body in done:
        statuses[status] = statuses.get(status, 0) + 1
        outcome = confirmed_of(status, body)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else None

    confirmed = outcomes.get("confirmed", 0)
    return {
        "requests": len(answers), "answered": len(done), "unanswered": len(answers) - len(done),
        "statuses": {str(k): v for k, v in sorted(statuses.items())}, "outcomes": outcomes,
        "seconds": round(seconds, 2), "confirmed": confirmed,
        "confirmed_per_s": round(confirmed / seconds, 1) if seconds else 0.0,
        "answered_per_s": round(len(done) / seconds, 1) if seconds else 0.0,
        "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "cpu_s": run["cpu_s"],
    }


def _bare_outcome(status: int, body: bytes) -> str:
    return {200: "confirmed", 409: "full"}.get(status, f"http {status}")


def _full_outcome(status: int, body: bytes) -> str:
    if status != 201:
        return f"http {status}"
    try:
        return str(json.loads(body)["status"])
    except (ValueError, KeyError, TypeError):
        return "unreadable"


def _line(label: str, r: dict) -> str:
    cpu = ", ".join(f"{name} {s} s" for name, s in r["cpu_s"].items())
    return (f"  {label:<5} {r['answered']} of {r['requests']} answered in {r['seconds']} s: {r['confirmed']} confirmed "
            f"({r['confirmed_per_s']:.0f}/s), {r['answered_per_s']:.0f} answers/s; p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
            f"max {r['max_ms']} ms; outcomes {r['outcomes']}; CPU {cpu or 'n/a'}")


# ---------------------------------------------------------------- the checks


async def _checks(url: str, term: uuid.UUID, students: int) -> dict:
    """What the database holds after the full run (every figure of `oversold` comes from here)."""
    from sqlalchemy import text

    from shared.db import create_engine

    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            per_section = (await conn.execute(text(
                "SELECT s.id, s.capacity, s.taken, count(r.id) FILTER (WHERE r.status::text = 'confirmed') AS confirmed, "
                "count(r.id) FILTER (WHERE r.status::text = 'waitlisted') AS waitlisted "
                "FROM courses.section s LEFT JOIN courses.registration r ON r.section_id = s.id "
                "WHERE s.term_id = :term GROUP BY s.id, s.capacity, s.taken"), {"term": term})).all()
            twice = (await conn.execute(text(
                "SELECT count(*) FROM (SELECT section_id, student_id FROM courses.registration WHERE term_id = :term "
                "GROUP BY section_id, student_id HAVING count(*) > 1) t"), {"term": term})).scalar_one()
            rows = (await conn.execute(text("SELECT count(*) FROM courses.registration WHERE term_id = :term"),
                                       {"term": term})).scalar_one()
            chained = dict((await conn.execute(text(
                "SELECT kind, count(*) FROM courses.record_chain WHERE kind IN ('registration.confirmed', 'registration.waitlisted') "
                "GROUP BY kind"))).all())
            bare = (await conn.execute(text("SELECT coalesce(sum(taken), 0), count(*) FILTER (WHERE taken > capacity) "
                                            "FROM bench_registration.section"))).one()
    finally:
        await engine.dispose()
    return {
        "oversold_seats": sum(max(0, r.taken - r.capacity) for r in per_section),
        "sections_confirmed_not_taken": sum(1 for r in per_section if r.confirmed != r.taken),
        "students_twice_in_a_section": twice,
        "registrations": rows, "requests": students,
        "confirmed": sum(r.confirmed for r in per_section), "waitlisted": sum(r.waitlisted for r in per_section),
        "sections_full": sum(1 for r in per_section if r.taken == r.capacity), "sections": len(per_section),
        "chain_entries": {k: chained.get(k, 0) for k in ("registration.confirmed", "registration.waitlisted")},
        "bare_taken": int(bare[0]), "bare_oversold_sections": int(bare[1]),
    }


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.perf.registration", description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=20_000, help="students, one registration request each (at most 50000)")
    p.add_argument("--sections", type=int, default=40, help="sections of the term (at most 200)")
    p.add_argument("--capacity", type=int, default=400, help="seats per section (at most 10000)")
    p.add_argument("--concurrency", type=int, default=200, help="requests in flight, one per connection (at most 1000)")
    p.add_argument("--seed", type=int, default=20270901, help="the seed of the students' choices and order")
    args = p.parse_args(argv)
    if not 0 < args.students <= 50_000 or not 0 < args.sections <= 200 or not 0 < args.capacity <= 10_000:
        p.error("--students must be in [1, 50000], --sections in [1, 200], --capacity in [1, 10000]")
    if not 0 < args.concurrency <= 1000:
        p.error("--concurrency must be in [1, 1000]")
    exit_on_sigterm()
    started = Machine.now()
    from services.courses.settings import CoursesSettings

    pool = CoursesSettings.model_fields["database_pool_size"].default + CoursesSettings.model_fields["database_max_overflow"].default
    rng = random.Random(args.seed)
    students = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(args.students)]
    picks = rng.choices(range(args.sections), weights=[1 / (k + 1) ** 0.5 for k in range(args.sections)], k=args.students)
    print(f"registration day: {args.students} students, {args.sections} sections x {args.capacity} seats, "
          f"{args.concurrency} requests in flight; targets: full stack above {TARGET_RATIO} of the bare endpoint's "
          f"confirmed/s, p99 below {TARGET_P99_MS:g} ms, zero oversold", flush=True)

    with tempfile.TemporaryDirectory(prefix="sprout-bench-") as tmp, scratch_database() as url, ExitStack() as stack:
        t0 = time.perf_counter()
        made = asyncio.run(_setup(url, students, args.sections, args.capacity))
        setup_s = time.perf_counter() - t0
        print(f"  setup: {args.students} programme students and {args.sections} sections in {setup_s:.1f} s", flush=True)
        sections = made["sections"]
        logs = {name: Path(tmp) / name for name in ("bare", "gateway", "courses")}
        for folder in logs.values():
            folder.mkdir()

        # The bare endpoint first, stopped before the full stack starts.
        bare_port = free_port()
        bare_env = {"SPROUT_BENCH_DSN": url.replace("postgresql+asyncpg://", "postgresql://", 1), "SPROUT_BENCH_POOL": str(pool)}
        bare_cmd = [sys.executable, "-m", "uvicorn", "tests.perf.registration_bare:create_app", "--factory", "--port", str(bare_port),
                    "--host", "127.0.0.1", "--no-access-log", "--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
        with service_process("bare", bare_port, bare_env, logs["bare"], command=bare_cmd) as (bare_url, bare_pid):
            host = f"127.0.0.1:{bare_port}"
            bare_requests = [_post(host, "/take", {"section_id": str(sections[k])}, {}) for k in picks]
            bare = _summary(_drive(bare_url, bare_requests, args.concurrency, {"bare": bare_pid}), _bare_outcome)
        print(_line("bare", bare), flush=True)

        gateway_port, courses_port = free_port(), free_port()
        huge = str(10**9)
        common = {"SPROUT_DATABASE_URL": url, "SPROUT_CORS_ORIGINS": "[]"}
        gateway_env = {**common, "SPROUT_COURSES_URL": f"http://127.0.0.1:{courses_port}",
                       # Every student sends one request: the limit runs (its cost is in the figure) and refuses nothing.
                       **{f"SPROUT_RATE_LIMIT_{kind}{what}": huge for kind in ("", "ANONYMOUS_") for what in ("PER_MINUTE", "BURST")}}
        gateway, gateway_pid = stack.enter_context(service_process("gateway", gateway_port, gateway_env, logs["gateway"]))
        courses_env = {**common, "SPROUT_GATEWAY_URL": gateway, "SPROUT_DIRECTORY_BOOTSTRAP": "false"}
        _, courses_pid = stack.enter_context(service_process("courses", courses_port, courses_env, logs["courses"]))
        t0 = time.perf_counter()
        tokens = asyncio.run(_tokens(url, students, made["school"]))
        tokens_s = time.perf_counter() - t0
        print(f"  {len(tokens)} tokens signed with the gateway's key in {tokens_s:.1f} s", flush=True)
        host = f"127.0.0.1:{gateway_port}"
        full_requests = [_post(host, "/api/courses/registrations", {"section_id": str(sections[k])},
                               {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.UUID(int=rng.getrandbits(128), version=4))})
                         for k, token in zip(picks, tokens, strict=True)]
        # Warm the path (imports, pools, the JWKS at courses) with reads, so no seat goes to a warm-up.
        warm = [f"GET /api/courses/registration-windows HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {t}\r\n\r\n".encode()
                for t in tokens[:50]]
        _drive(gateway, warm, 10, {})
        full = _summary(_drive(gateway, full_requests, args.concurrency, {"gateway": gateway_pid, "courses": courses_pid}),
                        _full_outcome)
        print(_line("full", full), flush=True)
        checks = asyncio.run(_checks(url, made["term"], args.students))

    failures = []
    if checks["registrations"] != args.students:
        failures.append(f"{checks['registrations']} registrations for {args.students} requests")
    if full["outcomes"].get("confirmed", 0) != checks["confirmed"] or full["outcomes"].get("waitlisted", 0) != checks["waitlisted"]:
        failures.append(f"the answers said {full['outcomes']}, the database holds {checks['confirmed']} confirmed "
                        f"and {checks['waitlisted']} waitlisted")
    if full["answered"] != args.students or set(full["statuses"]) != {"201"}:
        failures.append(f"full run: {full['unanswered']} unanswered, statuses {full['statuses']}")
    if bare["confirmed"] != checks["bare_taken"] or bare["answered"] != args.students:
        failures.append(f"bare run: {bare['confirmed']} confirmed answers, {checks['bare_taken']} seats taken, "
                        f"{bare['unanswered']} unanswered")
    violations = checks["oversold_seats"] + checks["sections_confirmed_not_taken"] + checks["students_twice_in_a_section"]
    print(f"  checked in SQL: {checks['confirmed']} confirmed, {checks['waitlisted']} waitlisted, {checks['sections_full']} of "
          f"{checks['sections']} sections full; oversold seats {checks['oversold_seats']}, sections whose confirmed != taken "
          f"{checks['sections_confirmed_not_taken']}, students twice in a section {checks['students_twice_in_a_section']}; "
          f"record chain entries {checks['chain_entries']}", flush=True)
    for failure in failures:
        print(f"  !! {failure}", flush=True)

    runs = {"bare": bare, "full": full}
    figures = [
        Figure("registration_throughput", full["confirmed_per_s"] if full["answered"] else None, "conf/s",
               Comparison("bare_update_throughput", bare["confirmed_per_s"]), Target("above", TARGET_RATIO, of="ratio"),
               details={"answered_per_s": {k: r["answered_per_s"] for k, r in runs.items()},
                        "seconds": {k: r["seconds"] for k, r in runs.items()}}),
        Figure("registration_p99", full["p99_ms"], "ms", Comparison("bare_update_p99", bare["p99_ms"] or 0),
               Target("below", TARGET_P99_MS), details={"p50_ms": {k: r["p50_ms"] for k, r in runs.items()},
                                                        "max_ms": {k: r["max_ms"] for k, r in runs.items()}}),
        Figure("oversold", float(violations), "rows", Comparison("seats", float(args.sections * args.capacity)), Target("below", 1),
               details={k: checks[k] for k in ("oversold_seats", "sections_confirmed_not_taken", "students_twice_in_a_section")}),
    ]
    write_figures("registration", figures, started=started, options=args, details={
        "runs": runs, "checks": checks, "setup_s": round(setup_s, 1), "tokens_s": round(tokens_s, 1), "pool": pool,
        "failed": failures,
    })
    met = all(f.target_met for f in figures)
    print(f"  targets {'all met' if met else 'NOT all met'}: throughput ratio above {TARGET_RATIO}, p99 below {TARGET_P99_MS:g} ms, "
          f"zero oversold", flush=True)
    return 1 if failures or not met else 0


if __name__ == "__main__":
    sys.exit(main())
