"""The composite score and the ranking of one discipline's candidates: pure, so the explanation can show every step.

Composite. Each scored stage counts by its weight for the discipline: the IQ and written
tests on their campaign scales brought to 0-100 ((score - min) / (max - min) x 100), the
interview as its corrected panel score (already 0-100, the rubric's total with each
expert's severity removed, shared/rubrics/raters.py), or, where the panel disagreed and staff
adjudicated with a score, that score; clamped to 0-100. An exempt stage is
left out: its weight goes to the candidate's other stages (the composite divides by the
weights of the stages that count). A candidate absent from a stage, or with no result for
it, is *incomplete*: no composite, ranked after every complete candidate (by candidate id),
proposed for rejection; staff may still decide otherwise, with a reason.

Ties, broken in this order (documented in the API too): the composite (to 4 decimals,
higher first), then the interview, the written test and the IQ test (each normalised,
higher first), then the candidate id, which is arbitrary but fixed, so the same data always
gives the same ranking.

The proposal. The first `quota` complete candidates are proposed for admission, the next
`waitlist` for the waiting list, the rest for rejection.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

STAGES = ("iq_test", "written_test", "interview")
# The order in which stages break a tie in the composite.
TIE_BREAK = ("interview", "written_test", "iq_test")
FOUR = Decimal("0.0001")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class StageResult:
    """One stage of one candidate: `state` scored, absent, exempt or missing; `value` on 0-100 when scored."""

    state: str
    value: Decimal | None = None


@dataclass(frozen=True)
class Entry:
    candidate_id: uuid.UUID
    stages: Mapping[str, StageResult]


@dataclass(frozen=True)
class Ranked:
    candidate_id: uuid.UUID
    composite: Decimal | None
    rank: int  # 1 = best; incomplete candidates come last
    proposal: str  # admitted | waitlisted | rejected
    complete: bool
    counted: tuple[str, ...] = field(default=())  # the stages that made the composite


def normalise(score: Decimal, low: Decimal, high: Decimal) -> Decimal:
    return ((Decimal(score) - low) / (high - low) * HUNDRED).quantize(FOUR, ROUND_HALF_EVEN)


def clamp(value: Decimal) -> Decimal:
    return min(HUNDRED, max(Decimal(0), Decimal(value))).quantize(FOUR, ROUND_HALF_EVEN)


def composite(entry: Entry, weights: Mapping[str, int]) -> tuple[Decimal | None, tuple[str, ...]]:
    """The weighted mean of the stages that count, or None when a weighted stage is missing or absent."""
    total, weight, counted = Decimal(0), 0, []
    for stage in STAGES:
        w = int(weights.get(stage, 0))
        if w <= 0:
            continue
        result = entry.stages.get(stage, StageResult("missing"))
        if result.state == "exempt":
            continue
        if result.state != "scored" or result.value is None:
            return None, ()
        total += w * result.value
        weight += w
        counted.append(stage)
    if weight == 0:  # exempt from every weighted stage: nothing to rank on
        return None, ()
    return (total / weight).quantize(FOUR, ROUND_HALF_EVEN), tuple(counted)


def _value(entry: Entry, stage: str) -> Decimal:
    r = entry.stages.get(stage)
    return r.value if r is not None and r.state == "scored" and r.value is not None else Decimal(-1)


def rank(entries: Sequence[Entry], weights: Mapping[str, int], *, quota: int, waitlist: int) -> list[Ranked]:
    scored = [(e, *composite(e, weights)) for e in entries]
    complete = [s for s in scored if s[1] is not None]
    incomplete = [s for s in scored if s[1] is None]
    complete.sort(key=lambda s: (-s[1], *(-_value(s[0], t) for t in TIE_BREAK), str(s[0].candidate_id)))
    incomplete.sort(key=lambda s: str(s[0].candidate_id))
    out = []
    for i, (entry, value, counted) in enumerate(complete):
        proposal = "admitted" if i < quota else "waitlisted" if i < quota + waitlist else "rejected"
        out.append(Ranked(entry.candidate_id, value, i + 1, proposal, True, counted))
    for j, (entry, _, _) in enumerate(incomplete):
        out.append(Ranked(entry.candidate_id, None, len(complete) + j + 1, "rejected", False))
    return out
