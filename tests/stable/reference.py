"""The reference for services/mentoring/stable.py: the `matching` package's hospital/resident solver.

`package_matching(game)` plays the same game there: banned pairs struck from both lists, each
forced student taken out with one of their mentor's places (what our run does around them),
`clean=True` so that a pair counts only when both list each other, as in ours.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable

from matching.games import HospitalResident

from services.mentoring.stable import Game


def package_matching(game: Game) -> dict[Hashable, Hashable]:
    banned = set(game.banned)
    forced = dict(game.forced)
    capacity = {m: game.capacity.get(m, 0) for m in game.mentors}
    for m in forced.values():
        capacity[m] -= 1
    residents = {s: [m for m in prefs if (s, m) not in banned] for s, prefs in game.students.items() if s not in forced}
    hospitals = {m: [s for s in prefs if (s, m) not in banned] for m, prefs in game.mentors.items() if capacity[m] > 0}
    while True:  # keep only pairs who list each other, and players with someone left (the package wants both)
        before = (sum(map(len, residents.values())), sum(map(len, hospitals.values())))
        residents = {s: [m for m in prefs if s in hospitals.get(m, ())] for s, prefs in residents.items()}
        hospitals = {m: [s for s in prefs if m in residents.get(s, ())] for m, prefs in hospitals.items()}
        residents = {s: prefs for s, prefs in residents.items() if prefs}
        hospitals = {m: prefs for m, prefs in hospitals.items() if prefs}
        if before == (sum(map(len, residents.values())), sum(map(len, hospitals.values()))):
            break
    result = dict(forced)
    if not residents:
        return result
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        solved = HospitalResident.create_from_dictionaries(
            residents, hospitals, {m: capacity[m] for m in hospitals}, clean=True).solve(optimal="resident")
    for hospital, matched in solved.items():
        for resident in matched:
            result[resident.name] = hospital.name
    return result


def brute_blocking(game: Game, matching: dict) -> set[tuple]:
    """Blocking pairs by their definition, pair by pair (an independent check of stable.blocking_pairs)."""
    found = set()
    for s, prefs in game.students.items():
        for m, ranked in game.mentors.items():
            if m not in prefs or s not in ranked or (s, m) in set(game.banned):
                continue
            mine = matching.get(s)
            if mine is not None and prefs.index(m) >= prefs.index(mine):
                continue
            held = [o for o, n in matching.items() if n == m]
            room = len(held) < game.capacity.get(m, 0)
            lower = any(o not in ranked or ranked.index(o) > ranked.index(s) for o in held)
            if room or lower:
                found.add((s, m))
    return found
