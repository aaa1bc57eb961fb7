"""Stable matching of students to lab mentors with capacities: student-proposing deferred acceptance.

The game is the hospital/resident problem. Each student ranks some mentors; each mentor ranks
some students and takes at most `capacity` of them. A pair is *acceptable* when each lists the
other and staff have not banned it. Student-proposing deferred acceptance (Gale and Shapley
1962, with capacities after Roth 1984) gives the student-optimal stable matching: no
acceptable pair would both rather have each other than what they got (no blocking pair), and
every student has the best mentor they can have in any stable matching, so no student gains by
ranking other than truthfully. That matching is unique, whatever the order of proposals.

Staff may *force* pairs: each forced student has their mentor before the run, which takes one
of the mentor's places; the others are matched stably around them. A forced pair can leave a
blocking pair behind (the forced student would rather have a mentor who would rather have
them, or a mentor's place went to a forced student the mentor ranks below someone left out):
`blocking_pairs` names every one, so a draft says which stability it gave up.

Keys are any hashable values (the service uses need ids and mentor ids); the work is plain
dictionaries and one heap per mentor, linear in the proposals made.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

S = TypeVar("S", bound=Hashable)
M = TypeVar("M", bound=Hashable)


@dataclass(frozen=True)
class Game(Generic[S, M]):
    """One instance. `students[s]` lists s's mentors, best first; `mentors[m]` lists m's students,
    best first; `capacity[m]` is how many m takes (a mentor missing from it takes none).
    `banned` pairs (student, mentor) are never matched; `forced` gives a student their mentor
    whatever the preferences say."""

    students: Mapping[S, Sequence[M]]
    mentors: Mapping[M, Sequence[S]]
    capacity: Mapping[M, int]
    banned: Collection[tuple[S, M]] = frozenset()
    forced: Mapping[S, M] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for s, m in self.forced.items():
            if s not in self.students:
                raise ValueError(f"forced student {s!r} is not in the game")
            if m not in self.mentors:
                raise ValueError(f"forced mentor {m!r} is not in the game")
            if (s, m) in self.banned:
                raise ValueError(f"{s!r} and {m!r} are both forced and banned")
        taken: dict[M, int] = {}
        for m in self.forced.values():
            taken[m] = taken.get(m, 0) + 1
        for m, n in taken.items():
            if n > self.capacity.get(m, 0):
                raise ValueError(f"{n} students forced on {m!r}, who takes {self.capacity.get(m, 0)}")
        for who, lists in (("student", self.students), ("mentor", self.mentors)):
            for key, ranked in lists.items():
                if len(set(ranked)) != len(ranked):
                    raise ValueError(f"{who} {key!r} lists someone twice")
        for m, n in self.capacity.items():
            if n < 0:
                raise ValueError(f"mentor {m!r} has a negative capacity")

    def ranks(self) -> dict[M, dict[S, int]]:
        """Each mentor's rank of each student they list, 0 the best."""
        return {m: {s: i for i, s in enumerate(ranked)} for m, ranked in self.mentors.items()}

    def acceptable(self, s: S, m: M, ranks: Mapping[M, Mapping[S, int]] | None = None) -> bool:
        ranks = self.ranks() if ranks is None else ranks
        return s in ranks.get(m, {}) and m in self.students.get(s, ()) and (s, m) not in self.banned


def deferred_acceptance(game: Game[S, M]) -> dict[S, M]:
    """The student-optimal stable matching around the forced pairs: each matched student's mentor.

    Free students propose down their lists; a mentor holds the best proposals up to their
    places left and releases the worst held when a better one comes.
    """
    ranks = game.ranks()
    banned = game.banned if isinstance(game.banned, (set, frozenset)) else set(game.banned)
    room = {m: game.capacity.get(m, 0) for m in game.mentors}
    for m in game.forced.values():
        room[m] -= 1
    held: dict[M, list[tuple[int, S]]] = {m: [] for m in game.mentors}  # max-heaps by rank, as (-rank, student)
    cursor = dict.fromkeys(game.students, 0)
    free = [s for s in reversed(list(game.students)) if s not in game.forced]
    while free:
        s = free.pop()
        prefs = game.students[s]
        i = cursor[s]
        while i < len(prefs):
            m = prefs[i]
            i += 1
            r = ranks.get(m, {}).get(s)
            if r is None or room.get(m, 0) <= 0 or (banned and (s, m) in banned):
                continue
            heap = held[m]
            if len(heap) < room[m]:
                heapq.heappush(heap, (-r, s))
                break
            if -heap[0][0] > r:
                _, out = heapq.heapreplace(heap, (-r, s))
                free.append(out)
                break
        cursor[s] = i
    matching = dict(game.forced)
    for m, heap in held.items():
        for _, s in heap:
            matching[s] = m
    return matching


@dataclass(frozen=True)
class Blocking(Generic[S, M]):
    """An acceptable pair who would both rather have each other: `student` ranks `mentor` above
    their own (or has none), and `mentor` has a place left or holds someone they rank lower."""

    student: S
    mentor: M
    student_rank: int  # 0 the best
    mentor_rank: int
    forced: bool  # the student's own pair was forced


def blocking_pairs(game: Game[S, M], matching: Mapping[S, M]) -> list[Blocking[S, M]]:
    """Every blocking pair of `matching` in `game` (none for a stable matching)."""
    ranks = game.ranks()
    banned = set(game.banned)
    held: dict[M, list[S]] = {m: [] for m in game.mentors}
    for s, m in matching.items():
        held.setdefault(m, []).append(s)
    worst = {m: max((ranks[m].get(s, len(ranks[m])) for s in held_), default=-1) for m, held_ in held.items() if m in ranks}
    found: list[Blocking[S, M]] = []
    for s, prefs in game.students.items():
        mine = matching.get(s)
        for i, m in enumerate(prefs):
            if m == mine:
                break
            r = ranks.get(m, {}).get(s)
            if r is None or (s, m) in banned:
                continue
            if len(held.get(m, ())) < game.capacity.get(m, 0) or r < worst.get(m, -1):
                found.append(Blocking(s, m, i, r, s in game.forced))
    return found


@dataclass(frozen=True)
class Passed(Generic[M]):
    """A mentor a student ranked above the one they got, and why not that one."""

    mentor: M
    student_rank: int  # 0 the best
    # "full" (with students the mentor ranks higher), "place_forced" (a forced pair holds a place
    # the student would have had), "not_ranked_by_mentor", "banned", "no_places"
    reason: str
    mentor_rank: int | None = None  # the mentor's rank of this student, when they ranked them
    last_taken_rank: int | None = None  # for "full": the mentor's rank of the lowest student they took


def passed_over(game: Game[S, M], matching: Mapping[S, M], s: S, ranks: Mapping[M, Mapping[S, int]] | None = None,
                held: Mapping[M, Iterable[S]] | None = None) -> list[Passed[M]]:
    """For student `s`: each mentor they ranked above their match (all of them when unmatched), with the reason."""
    ranks = game.ranks() if ranks is None else ranks
    if held is None:
        collected: dict[M, list[S]] = {}
        for other, m in matching.items():
            collected.setdefault(m, []).append(other)
        held = collected
    mine = matching.get(s)
    out: list[Passed[M]] = []
    for i, m in enumerate(game.students.get(s, ())):
        if m == mine:
            break
        r = ranks.get(m, {}).get(s)
        if (s, m) in game.banned:
            out.append(Passed(m, i, "banned", r))
        elif game.capacity.get(m, 0) <= 0:
            out.append(Passed(m, i, "no_places", r))
        elif r is None:
            out.append(Passed(m, i, "not_ranked_by_mentor"))
        else:
            taken = [ranks[m].get(o, len(ranks[m])) for o in held.get(m, ())]
            lowest = max(taken, default=None)
            beaten = lowest is not None and lowest > r  # only a forced pair can hold someone the mentor ranks lower
            out.append(Passed(m, i, "place_forced" if beaten else "full", r, lowest))
    return out
