"""ETags of versioned records, and the If-Match check that keeps one update from overwriting another.

A record with a version number (SQLAlchemy's `version_id_col`, raised by every update) answers
with `ETag: "<version>"` on reads and writes; an update of a record people may change at the
same time requires `If-Match` with the ETag the client read, and is refused with 428
`precondition_required` without it and 412 `precondition_failed` when the record changed since:

    @router.patch(
        "/panels/{panel_id}", response_model=PanelOut,
        responses=problem_responses("panel_not_found", *PRECONDITION_PROBLEMS),
    )
    async def update_panel(
        principal: Staff, panel_id: uuid.UUID, body: PanelPatch, session: DbSession, response: Response, if_match: IfMatch = None
    ) -> PanelOut:
        panel = await repo.get_panel(session, panel_id, for_update=True)  # the lock: check and write in one step
        ...
        check_if_match(if_match, panel.version)
        ...  # change it, flush
        set_etag(response, panel.version)
        return PanelOut.model_validate(panel)

The comparison is RFC 9110's strong one: a weak validator (`W/"3"`) never matches; `*`
matches any version.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Response

from shared.problems import ProblemError

PRECONDITION_PROBLEMS = ("precondition_required", "precondition_failed")

IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description="The ETag of the record as you read it (or `*`): the update is refused if it changed since."),
]


def etag(version: int) -> str:
    """The ETag of a record at `version`."""
    return f'"{version}"'


def matches(if_match: str, version: int) -> bool:
    """Whether an If-Match header's list names `version` (or is `*`)."""
    wanted = etag(version)
    return any(candidate.strip() in ("*", wanted) for candidate in if_match.split(","))


def check_if_match(if_match: str | None, version: int) -> None:
    """Refuse an update without If-Match (428), or whose If-Match names no longer the record's version (412)."""
    if not if_match:
        raise ProblemError("precondition_required")
    if not matches(if_match, version):
        raise ProblemError("precondition_failed", etag=etag(version))


def set_etag(response: Response, version: int) -> None:
    """Answer with the record's ETag."""
    response.headers["ETag"] = etag(version)
