"""`GET /whoami` in every service: the caller as this service's own token check sees it.

For frontends (which roles does this token carry here?) and for tests that a service
refuses a request without a valid token, whether or not it came through the gateway.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel

from shared.auth import CurrentPrincipal
from shared.routes import APIRouter

router = APIRouter(tags=["auth"])


class WhoAmI(BaseModel):
    kind: Literal["user", "client"]
    id: str
    name: str | None
    roles: list[str]
    scopes: list[str]
    school_id: str | None
    partner_id: str | None
    expires_at: datetime


@router.get(
    "/whoami",
    response_model=WhoAmI,
    summary="The caller, from the bearer token this service verified",
)
async def whoami(principal: CurrentPrincipal) -> WhoAmI:
    return WhoAmI(
        kind=principal.kind,
        id=principal.id,
        name=principal.name,
        roles=sorted(principal.roles),
        scopes=sorted(principal.scopes),
        school_id=principal.school_id,
        partner_id=principal.partner_id,
        expires_at=datetime.fromtimestamp(principal.expires_at, tz=UTC),
    )
