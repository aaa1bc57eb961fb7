"""Revocation latency: an admin disables an account -> the first 401 for its token, at the gateway and at two replicas of a service.

Real processes on a scratch database (`sprout serve`, one uvicorn worker each): a gateway
and two courses replicas, none polling the revocation table (an hour between polls), so
every refusal is the work of the NOTIFY (shared/revocations.py). For each of `--people`
students: sign in, call each process once with the token (so each has verified and cached
it), then disable the account through the gateway (`PATCH /identity/users/{id}`) and, from
the moment its answer arrives (the transaction has committed), call each process as fast as
one connection allows until it answers 401. Latency is that wait; it includes one request's
round trip, so each process's figure (`refusal_max_<process>`, the slowest of the accounts,
in `.sprout/bench/revocation.json`) is compared with that round trip: the median time of an
accepted request with the same token to the same process, the three processes called at
once as when they are polled. Target: every process refuses within 1 s (below 1000 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from tests.perf.harness import (
    Comparison, Figure, Machine, Target, exit_on_sigterm, free_port, scratch_database, service_process, write_figures,
)

TARGET_MS = 1000.0
GIVE_UP_S = 5.0


async def _people(url: str, n: int):
    from shared.db import create_engine
    from tests.tokens.support import committed, make_user

    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with committed(engine) as s:
            admin = await make_user(s, "admin")
            students = [await make_user(s, "student") for _ in range(n)]
        return admin, students
    finally:
        await engine.dispose()


async def _measure(
    url: str, gateway: str, targets: dict[str, str], people: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """For each process, the wait from each account's disabling to its first 401, and the round trips of accepted requests."""
    import httpx

    from tests.tokens.support import PASSWORD

    admin, students = await _people(url, people)
    waits: dict[str, list[float]] = {name: [] for name in targets}
    trips: dict[str, list[float]] = {name: [] for name in targets}
    clients = {name: httpx.AsyncClient(timeout=10) for name in ("admin", *targets)}
    try:
        async def sign_in(username: str) -> str:
            r = await clients["admin"].post(
                f"{gateway}/auth/token", data={"grant_type": "password", "username": username, "password": PASSWORD}
            )
            r.raise_for_status()
            return r.json()["access_token"]

        admin_auth = {"Authorization": f"Bearer {await sign_in(admin.username)}"}
        for student in students:
            auth = {"Authorization": f"Bearer {await sign_in(student.username)}"}
            urls = {name: target.format(user_id=student.id) for name, target in targets.items()}
            for name, target in urls.items():
                r = await clients[name].get(target, headers=auth)
                if r.status_code != 200:
                    raise RuntimeError(f"{name} answered {r.status_code} before the account was disabled: {r.text}")

            async def accepted(name: str, target: str) -> float:
                t0 = time.perf_counter()
                r = await clients[name].get(target, headers=auth)
                r.raise_for_status()
                return (time.perf_counter() - t0) * 1000

            for name, ms in zip(urls, await asyncio.gather(*(accepted(n, t) for n, t in urls.items())), strict=True):
                trips[name].append(ms)
            user_url = f"{gateway}/identity/users/{student.id}"
            etag = (await clients["admin"].get(user_url, headers=admin_auth)).headers["etag"]

            r = await clients["admin"].patch(user_url, json={"disabled": True}, headers={**admin_auth, "If-Match": etag})
            committed_at = time.perf_counter()
            r.raise_for_status()

            async def first_refusal(name: str, target: str) -> float:
                while time.perf_counter() - committed_at < GIVE_UP_S:
                    if (await clients[name].get(target, headers=auth)).status_code == 401:
                        return (time.perf_counter() - committed_at) * 1000
                return float("inf")

            found = await asyncio.gather(*(first_refusal(name, target) for name, target in urls.items()))
            for name, ms in zip(urls, found, strict=True):
                waits[name].append(ms)
    finally:
        for client in clients.values():
            await client.aclose()
    return waits, trips


def _measured(ms: float) -> float | None:
    return round(ms, 1) if math.isfinite(ms) else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.perf.revocation", description=__doc__.splitlines()[0])
    p.add_argument("--people", type=int, default=20, help="accounts disabled, one after the other (at most 500)")
    args = p.parse_args(argv)
    if not 0 < args.people <= 500:
        p.error("--people must be in [1, 500]")
    exit_on_sigterm()
    started = Machine.now()

    with tempfile.TemporaryDirectory(prefix="sprout-bench-") as tmp, scratch_database() as url, ExitStack() as stack:
        ports = {name: free_port() for name in ("gateway", "courses-1", "courses-2")}
        base = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        common = {"SPROUT_DATABASE_URL": url, "SPROUT_REVOCATIONS_POLL_SECONDS": "3600", "SPROUT_CORS_ORIGINS": "[]"}
        for name, port in ports.items():
            log_dir = Path(tmp) / name
            log_dir.mkdir()
            service = name.split("-")[0]
            env = {**common, "SPROUT_COURSES_URL": base["courses-1"]} if service == "gateway" else {**common, "SPROUT_GATEWAY_URL": base["gateway"]}
            stack.enter_context(service_process(service, port, env, log_dir))
        targets = {
            "gateway": base["gateway"] + "/identity/users/{user_id}",
            "courses_replica_1": base["courses-1"] + "/whoami",
            "courses_replica_2": base["courses-2"] + "/whoami",
        }
        waits, trips = asyncio.run(_measure(url, base["gateway"], targets, args.people))

    print(f"disable -> first 401, {args.people} accounts, no polling (NOTIFY only); the gateway on its own route "
          "(/identity/users/ID), the replicas on /whoami:", flush=True)
    figures = []
    for name, ms in waits.items():
        ordered = sorted(ms)
        p50, top = statistics.median(ordered), ordered[-1]
        trip = statistics.median(trips[name])
        print(f"  {name:<18} p50 {p50:7.1f} ms   max {top:7.1f} ms   (an accepted request: median {trip:.1f} ms)", flush=True)
        # A process that never refused within GIVE_UP_S has no figure: None, and the target missed.
        figures.append(Figure(
            f"refusal_max_{name}", _measured(top), "ms", Comparison("accepted_request", round(trip, 2)), Target("below", TARGET_MS),
            details={"p50_ms": _measured(p50), "refused": sum(map(math.isfinite, ms)), "give_up_s": GIVE_UP_S},
        ))
    ok = all(figure.target_met for figure in figures)
    print(f"  {'within 1 s everywhere' if ok else '!! SLOWER THAN 1 s somewhere'}", flush=True)
    write_figures("revocation", figures, started=started, options=args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
