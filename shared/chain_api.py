"""`GET /record/verify`: the admin's check of a service's tamper-evident record (shared/chain.py).

Every service that keeps a chain includes `record_router(chain)`; the answer is the same
everywhere: whether the record holds, how much it checked, its head (publish it: a head
once seen that later is not the chain's head's ancestor proves a rewrite), and the
findings, each naming the row or entry that no longer matches.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from shared.auth import require
from shared.chain import MAX_FINDINGS, Chain
from shared.db import DbSession
from shared.routes import APIRouter
from shared.tokens import Principal

Admin = Annotated[Principal, Depends(require("admin"))]


class FindingOut(BaseModel):
    reason: str = Field(description="gap, broken_link, entry_altered, row_altered, row_unrecorded or row_deleted.")
    seq: int | None = Field(description="The entry concerned (for a row: its last entry).")
    table: str | None
    row_id: str | None
    columns: list[str] = Field(description="For row_altered: the columns that differ from the record.")
    detail: str


class VerificationOut(BaseModel):
    ok: bool
    entries: int = Field(description="Entries checked, in order.")
    rows: int = Field(description="Rows of the tracked tables checked against their last entry.")
    head_seq: int
    head_hash: str
    findings: list[FindingOut] = Field(description=f"The first findings (at most `limit`, {MAX_FINDINGS} by default).")
    findings_total: int


def record_router(chain: Chain) -> APIRouter:
    router = APIRouter(prefix="/record", tags=["record"])

    @router.get("/verify", response_model=VerificationOut, summary="Verify the tamper-evident record: every entry, every tracked row")
    async def verify_record(
        _: Admin, session: DbSession,
        limit: Annotated[int, Query(ge=1, le=1000, description="How many findings to list.")] = MAX_FINDINGS,
    ) -> VerificationOut:
        """Walks the whole chain and every row it vouches for; on a large record this takes
        seconds. `ok` false names each row changed outside the service (e.g. by SQL)."""
        found = await chain.verify(session, max_findings=limit)
        return VerificationOut(
            ok=found.ok, entries=found.entries, rows=found.rows, head_seq=found.head_seq, head_hash=found.head_hash,
            findings=[FindingOut(reason=f.reason.value, seq=f.seq, table=f.table, row_id=f.row_id, columns=list(f.columns), detail=f.detail) for f in found.findings],
            findings_total=found.findings_total,
        )

    return router
