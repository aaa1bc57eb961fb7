"""Request and response bodies of the tokens domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.auth import CLIENT_ROLES
from shared.strict import RequestModel, name_type

Scope = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.:\-]{0,99}$")]
ClientId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{2,99}$")]
# Stripped before it is checked, so the pattern says what the schema would otherwise hide: a
# name of nothing but whitespace is refused (and, as every text, one holding NUL).
Name = name_type(200)
ClientRole = Literal[CLIENT_ROLES]  # type: ignore[valid-type]


class TokenResponse(BaseModel):
    """RFC 6749 5.1. `refresh_token` only for people (password and refresh_token grants)."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str | None = Field(
        default=None, description="Use it once with grant_type=refresh_token; each use returns a new one."
    )
    scope: str = Field(description="The granted scopes, space separated (empty for people: their roles govern).")


class Jwk(BaseModel):
    model_config = ConfigDict(extra="allow")

    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str


class Jwks(BaseModel):
    keys: list[Jwk]


class SchoolRef(BaseModel):
    id: uuid.UUID
    name: str


class PartnerRef(BaseModel):
    id: uuid.UUID
    name: str


class Child(BaseModel):
    id: uuid.UUID
    display_name: str
    relation: str
    school: SchoolRef | None
    grade: int | None


class Me(BaseModel):
    """The caller: a person (with their school and, for a guardian, their linked children) or a machine client."""

    kind: Literal["user", "client"]
    id: str = Field(description="A person's user id, or a machine client's client_id.")
    name: str
    username: str | None = None
    roles: list[str]
    scopes: list[str]
    school: SchoolRef | None = None
    grade: int | None = None
    children: list[Child] = Field(default_factory=list)
    partner: PartnerRef | None = None
    token_expires_at: datetime


class ClientIn(RequestModel):
    client_id: ClientId
    name: Name
    role: ClientRole
    scopes: list[Scope] = Field(default_factory=list, max_length=50)
    partner_id: uuid.UUID | None = Field(default=None, description="Required for role partner, forbidden otherwise.")


class ClientPatch(RequestModel):
    name: Name | None = None
    scopes: list[Scope] | None = Field(default=None, max_length=50)
    disabled: bool | None = None


class ClientOut(BaseModel):
    client_id: str
    name: str
    role: str
    scopes: list[str]
    partner_id: uuid.UUID | None
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, client) -> ClientOut:
        return cls(
            client_id=client.client_id, name=client.name, role=client.roles[0], scopes=list(client.scopes),
            partner_id=client.partner_id, disabled=client.disabled, created_at=client.created_at,
        )


class ClientWithSecret(ClientOut):
    client_secret: str = Field(description="Shown this once; the gateway keeps only its digest.")
