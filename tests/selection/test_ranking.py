"""The composite and the ranking (services/selection/results/ranking.py), worked by hand."""

from __future__ import annotations

import uuid
from decimal import Decimal

from services.selection.results.ranking import Entry, StageResult, composite, normalise, rank

W = {"iq_test": 1, "written_test": 1, "interview": 2}


def entry(n: int, iq=None, written=None, interview=None, **states) -> Entry:
    stages = {}
    for name, value in (("iq_test", iq), ("written_test", written), ("interview", interview)):
        state = states.get(name, "scored" if value is not None else "missing")
        stages[name] = StageResult(state, Decimal(value) if value is not None else None)
    return Entry(uuid.UUID(int=n), stages)


def test_tests_scale_to_0_100_and_the_composite_is_the_weighted_mean():
    assert normalise(Decimal(100), Decimal(40), Decimal(160)) == Decimal("50.0000")
    value, counted = composite(entry(1, 50, 70, 80), W)
    assert value == Decimal("70.0000")  # (50 + 70 + 2*80) / 4
    assert counted == ("iq_test", "written_test", "interview")


def test_an_exempt_stage_gives_its_weight_to_the_others_and_an_absent_one_makes_the_candidate_incomplete():
    value, counted = composite(entry(1, None, 70, 80, iq_test="exempt"), W)
    assert value == Decimal("76.6667") and counted == ("written_test", "interview")  # (70 + 160) / 3
    assert composite(entry(1, None, 70, 80, iq_test="absent"), W) == (None, ())
    assert composite(entry(1, None, 70, 80), W) == (None, ())


def test_ties_break_on_the_interview_then_the_written_test_then_the_iq_test_then_the_id():
    a = entry(4, 80, 60, 70)  # 70.0, interview 70
    b = entry(3, 60, 80, 70)  # 70.0, interview 70, written 80
    c = entry(2, 40, 60, 90)  # 70.0, interview 90
    d = entry(1, 80, 60, 70)  # same as a: the id decides
    e = entry(5, 99, 99, None)  # incomplete
    ranked = rank([a, b, c, d, e], W, quota=2, waitlist=1)
    assert [(r.candidate_id.int, r.rank, r.proposal) for r in ranked] == [
        (2, 1, "admitted"), (3, 2, "admitted"), (1, 3, "waitlisted"), (4, 4, "rejected"), (5, 5, "rejected"),
    ]
    assert ranked[-1].composite is None and not ranked[-1].complete
