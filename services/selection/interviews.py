"""What the ranking needs of the interview: each candidate's panel score, raw and corrected.

The panels (experts, assignment, rubric scoring, the rater-effects correction) provide it by
registering their function with `provide`; the results read it through `interview_results`.
Until a campaign's interviews are scored, a candidate has no interview result, and where
the discipline weighs the interview that candidate is incomplete (ranked last, with the
reason shown in the explanation), never given a zero.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class InterviewResult:
    raw_mean: float  # the mean of the panel's rubric totals, 0-100
    corrected: float | None  # with each expert's severity removed, 0-100 (None: not enough scores to say)
    correction: float | None
    raters: int
    flagged: bool  # the panel disagreed beyond the threshold
    adjudicated: bool  # staff have ruled on the disagreement
    adjudicated_score: float | None = None  # the score staff set in place of the corrected one, 0-100


Source = Callable[[AsyncSession, uuid.UUID], Awaitable[dict[uuid.UUID, InterviewResult]]]
_sources: list[Source] = []


def provide(source: Source) -> Source:
    """Register the function that answers a campaign's interview results (one, the panels')."""
    if _sources and _sources[0] is not source:
        raise RuntimeError("the interview results already have a provider")
    _sources[:] = [source]
    return source


async def interview_results(session: AsyncSession, campaign_id: uuid.UUID) -> dict[uuid.UUID, InterviewResult]:
    return await _sources[0](session, campaign_id) if _sources else {}
