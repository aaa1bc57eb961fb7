"""Figures files have one shape: write_figures refuses a figure that lacks what a release compares."""

from __future__ import annotations

import argparse
import json
import os

import pytest

from tests.perf.harness import Comparison, Figure, Machine, Target, from_rounds, write_figures

STARTED = Machine(at=1_700_000_000.0, cores=2, load_average=(1.25, 0.5, 0.125))


def latency(**overrides) -> Figure:
    fields = {
        "name": "latency_p99", "value": 12.5, "unit": "ms", "comparison": Comparison("commit_p99", 2.5),
        "target": Target("below", 20.0),
    }
    return Figure(**{**fields, **overrides})


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({"unit": ""}, "no unit"),
        ({"unit": None}, "no unit"),
        ({"target": None}, "no target"),
        ({"target": Target("under", 20.0)}, "no target"),
        ({"target": Target("below", 20.0, of="median")}, "no target"),
        ({"comparison": None}, "no comparison"),
        ({"comparison": Comparison("", 2.5)}, "no comparison"),
        ({"value": float("inf")}, "not a measurement"),
    ],
)
def test_a_figure_without_unit_target_or_comparison_is_refused_and_nothing_written(tmp_path, overrides, missing):
    with pytest.raises(ValueError, match=missing):
        write_figures("events", [latency(**overrides)], started=STARTED, options={}, directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_old_untyped_figures_and_repeated_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not a Figure"):
        write_figures("events", [{"p99_ms": 12.5}], started=STARTED, options={}, directory=tmp_path)
    with pytest.raises(ValueError, match="unique"):
        write_figures("events", [latency(), latency()], started=STARTED, options={}, directory=tmp_path)
    with pytest.raises(ValueError, match="at least one"):
        write_figures("events", [], started=STARTED, options={}, directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_figures_file_has_the_documented_shape(tmp_path):
    figures = [
        latency(details={"p50_ms": 3.5}),
        Figure("proxied_throughput", 2000, "req/s", Comparison("direct_throughput", 4000), Target("above", 0.4, of="ratio")),
        Figure("refusal_max_gateway", None, "ms", Comparison("accepted_request", 1.5), Target("below", 1000.0)),
    ]
    options = argparse.Namespace(seconds=2.0, rate=200.0)

    path = write_figures("events", figures, started=STARTED, options=options, details={"generator": "wrk"}, directory=tmp_path)

    assert path == tmp_path / "events.json"
    record = json.loads(path.read_text())
    assert set(record) == {"benchmark", "started_at", "finished_at", "commit", "machine", "options", "figures", "details"}
    assert record["benchmark"] == "events"
    assert record["started_at"] == "2023-11-14T22:13:20Z"
    assert record["finished_at"] >= record["started_at"]
    # This test runs in the project's git checkout.
    assert len(record["commit"]["sha"]) == 40 and isinstance(record["commit"]["dirty"], bool)
    assert record["machine"]["cores"] == os.cpu_count()
    assert record["machine"]["load_average"]["at_start"] == {"1m": 1.25, "5m": 0.5, "15m": 0.12}
    assert set(record["machine"]["load_average"]["at_end"]) == {"1m", "5m", "15m"}
    assert record["options"] == {"seconds": 2.0, "rate": 200.0}
    assert record["details"] == {"generator": "wrk"}
    assert record["figures"] == [
        {
            "name": "latency_p99", "value": 12.5, "unit": "ms", "comparison": {"name": "commit_p99", "value": 2.5},
            "ratio": 5.0, "target": {"of": "value", "direction": "below", "value": 20.0}, "target_met": True,
            "details": {"p50_ms": 3.5},
        },
        {
            "name": "proxied_throughput", "value": 2000, "unit": "req/s",
            "comparison": {"name": "direct_throughput", "value": 4000},
            "ratio": 0.5, "target": {"of": "ratio", "direction": "above", "value": 0.4}, "target_met": True,
        },
        {
            "name": "refusal_max_gateway", "value": None, "unit": "ms", "comparison": {"name": "accepted_request", "value": 1.5},
            "ratio": None, "target": {"of": "value", "direction": "below", "value": 1000.0}, "target_met": False,
        },
    ]


@pytest.mark.parametrize(
    ("figure", "met"),
    [
        (latency(value=20.0), False),
        (latency(value=19.9), True),
        (latency(value=30.0, comparison=Comparison("commit_p99", 20.0), target=Target("below", 2.0, of="ratio")), True),
        (latency(value=30.0, comparison=Comparison("commit_p99", 10.0), target=Target("below", 2.0, of="ratio")), False),
        (latency(value=30.0, comparison=Comparison("commit_p99", 0.0), target=Target("below", 2.0, of="ratio")), False),
        (latency(value=0.3, target=Target("above", 0.4)), False),
    ],
)
def test_a_target_is_met_strictly_on_the_side_it_names(figure, met):
    assert figure.target_met is met


def test_figures_from_rounds_come_from_the_round_with_the_median_ratio():
    # Ratios 0.5, 0.2, 0.4: the middle one is the third round's, value and comparison both.
    figure = from_rounds("proxied_throughput", "req/s", "direct_throughput", [(4000, 2000), (5000, 1000), (3000, 1200)],
                         Target("above", 0.4, of="ratio"))

    assert (figure.value, figure.comparison.value) == (1200, 3000)
    assert figure.details == {"ratios_by_round": [0.5, 0.2, 0.4]}
    assert figure.target_met is False
