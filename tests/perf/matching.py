"""Mentoring's stable matching at a cohort's size (issue 9's benchmark): ours against the `matching` package's.

One seeded instance: 5,000 students each ranking 10 of 1,000 lab mentors (capacity 5-10 each,
7,500 places on average), each mentor ranking everyone who listed them in one order (the
round's default order, as a mentor who has not ranked their applicants). From the same
preference rows, end to end (build the game, solve it):

- ours: services/mentoring/stable.py `Game` + `deferred_acceptance`, the median of `--runs`;
- the package's: `HospitalResident.create_from_dictionaries(...).solve(optimal="resident")`,
  once (it needs a raised recursion limit and a large thread stack at this size, given here);

both must give the same matching (checked; a difference fails the benchmark), and ours is
checked for blocking pairs with `blocking_pairs` (timed, reported). Target: ours at least 20
times faster, i.e. ours / package below 0.05, both measured in this run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
import warnings

from services.mentoring.stable import Game, blocking_pairs, deferred_acceptance
from tests.perf.harness import Comparison, Figure, Machine, Target, write_figures


def instance(students: int, mentors: int, listed: int, seed: int) -> tuple[list[tuple[str, str, int]], list[str], dict[str, int]]:
    """Preference rows (student, mentor, rank 1..listed), the default order of students, each mentor's capacity."""
    rng = random.Random(seed)
    mentor_ids = [f"m{j:04d}" for j in range(mentors)]
    student_ids = [f"s{i:05d}" for i in range(students)]
    rows = [(s, m, r) for s in student_ids for r, m in enumerate(rng.sample(mentor_ids, listed), start=1)]
    order = student_ids[:]
    rng.shuffle(order)
    return rows, order, {m: rng.randint(5, 10) for m in mentor_ids}


def game_from_rows(rows: list[tuple[str, str, int]], order: list[str], capacity: dict[str, int]) -> Game:
    """What a run does with a round's rows: each student's list by rank, each mentor's applicants in the default order."""
    students: dict[str, list[tuple[int, str]]] = {}
    applicants: dict[str, set[str]] = {m: set() for m in capacity}
    for s, m, r in rows:
        students.setdefault(s, []).append((r, m))
        applicants[m].add(s)
    place = {s: i for i, s in enumerate(order)}
    return Game({s: [m for _, m in sorted(ranked)] for s, ranked in students.items()},
                {m: sorted(them, key=place.__getitem__) for m, them in applicants.items()}, capacity)


def ours(rows, order, capacity) -> tuple[Game, dict[str, str]]:
    game = game_from_rows(rows, order, capacity)
    return game, deferred_acceptance(game)


def package(game: Game) -> dict[str, str]:
    from matching.games import HospitalResident

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        solved = HospitalResident.create_from_dictionaries(
            {s: list(p) for s, p in game.students.items()}, {m: list(p) for m, p in game.mentors.items()},
            dict(game.capacity)).solve(optimal="resident")
    return {r.name: h.name for h, matched in solved.items() for r in matched}


def in_big_thread(work):
    """Run `work()` in a thread with a 512 MiB stack and a raised recursion limit (the package deep-copies its players)."""
    out: dict = {}
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200_000)
    threading.stack_size(512 * 1024 * 1024)
    try:
        def target():
            try:
                out["value"] = work()
            except BaseException as error:  # handed back to the caller
                out["error"] = error
        t = threading.Thread(target=target)
        t.start()
        t.join()
    finally:
        threading.stack_size(0)
        sys.setrecursionlimit(limit)
    if "error" in out:
        raise out["error"]
    return out["value"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.perf.matching", description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=5000, help="students (100-20000)")
    p.add_argument("--mentors", type=int, default=1000, help="mentors (10-5000)")
    p.add_argument("--listed", type=int, default=10, help="mentors each student ranks (1-10)")
    p.add_argument("--runs", type=int, default=5, help="timed runs of ours; the median is the figure (1-20)")
    p.add_argument("--seed", type=int, default=9)
    args = p.parse_args(argv)
    if not (100 <= args.students <= 20000 and 10 <= args.mentors <= 5000 and 1 <= args.listed <= min(10, args.mentors)
            and 1 <= args.runs <= 20):
        p.error("--students in [100, 20000], --mentors in [10, 5000], --listed in [1, 10], --runs in [1, 20]")
    started = Machine.now()
    rows, order, capacity = instance(args.students, args.mentors, args.listed, args.seed)
    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        game, matching = ours(rows, order, capacity)
        times.append((time.perf_counter() - t) * 1000)
    ours_ms = statistics.median(times)
    t = time.perf_counter()
    blocking = blocking_pairs(game, matching)
    check_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    theirs = in_big_thread(lambda: package(game))
    package_ms = (time.perf_counter() - t) * 1000
    same = theirs == matching
    print(f"{args.students} students x {args.listed} of {args.mentors} mentors ({sum(capacity.values())} places): "
          f"ours {ours_ms:.1f} ms, the package {package_ms:.0f} ms; {len(matching)} matched; "
          f"same matching: {'yes' if same else 'NO'}; blocking pairs: {len(blocking)} (checked in {check_ms:.1f} ms)", flush=True)
    figure = Figure("stable_matching", round(ours_ms, 2), "ms", Comparison("matching_package", round(package_ms, 1)),
                    Target("below", 0.05, of="ratio"),
                    details={"runs_ms": [round(x, 2) for x in times], "matched": len(matching), "places": sum(capacity.values()),
                             "same_matching": same, "blocking_pairs": len(blocking), "stability_check_ms": round(check_ms, 1)})
    write_figures("matching", [figure], started=started, options=args)
    return 0 if figure.target_met and same and not blocking else 1


if __name__ == "__main__":
    sys.exit(main())
