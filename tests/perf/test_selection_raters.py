"""The rater-fit benchmark piece gives a figure the harness accepts, on a panel small enough for the suite."""

from __future__ import annotations

from pathlib import Path

from tests.perf.harness import Comparison, Figure, Machine, Target, write_figures
from tests.perf.selection_raters import measure_rater_fit


def test_the_rater_fit_figure_is_written_by_the_harness(tmp_path: Path) -> None:
    found = measure_rater_fit(candidates=300, experts=12, runs=2)
    figure = Figure(found["name"], found["value"], found["unit"], Comparison(**found["comparison"]),
                    Target(**found["target"]), found["details"])
    path = write_figures("selection_raters", [figure], started=Machine.now(), options={}, directory=tmp_path)
    assert path.exists() and figure.target_met
    assert found["details"]["ratings"] == 900 and len(found["details"]["ms_by_run"]) == 2
    assert found["details"]["severity_max_error_in_se"] < 4
