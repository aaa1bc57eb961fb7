"""Routes of the tokens domain: JWKS, the OAuth2 token and revocation endpoints, /auth/me, machine clients."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from services.gateway.tokens import oauth, service
from services.gateway.tokens.models import Client
from services.gateway.tokens.schemas import ClientIn, ClientOut, ClientPatch, ClientWithSecret, Jwks, Me, TokenResponse
from shared.auth import CurrentPrincipal, Public, require
from shared.db import DbSession
from shared.pagination import Page, PageParams, paginate
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter

router = APIRouter()

Admin = Depends(require("admin"))
ClientIdPath = Annotated[str, Path(max_length=100, description="The client's client_id.")]

_TEXT = {"type": "string", "minLength": 1, "maxLength": oauth.MAX_VALUE}
# RFC 6749 3.1: an optional parameter sent empty counts as not sent.
_OPTIONAL = {"type": "string", "maxLength": oauth.MAX_VALUE}
_SCOPE = {**_OPTIONAL, "description": "Space-separated scopes (machine clients only)."}


# RFC 6749 3.2: a parameter is sent once; one the endpoint does not know is ignored.
_ANY_OTHER = {"additionalProperties": {"type": "string"}}


def _grant(name: str, required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": name,
        "type": "object",
        "required": ["grant_type", *required],
        "properties": {"grant_type": {"type": "string", "enum": [name]}, **properties},
        **_ANY_OTHER,
    }


# One schema per grant (RFC 6749 4.3, 4.4, 6), so each says which parameters it needs.
_FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            oauth.FORM: {
                "schema": {
                    "oneOf": [
                        _grant("password", ["username", "password"], username=_TEXT, password={**_TEXT, "format": "password"}),
                        _grant(
                            "client_credentials", [],
                            client_id={**_OPTIONAL, "description": "Or HTTP Basic."},
                            client_secret={**_OPTIONAL, "format": "password", "description": "Or HTTP Basic."},
                            scope=_SCOPE,
                        ),
                        _grant("refresh_token", ["refresh_token"], refresh_token=_TEXT, scope=_SCOPE),
                    ],
                    "discriminator": {"propertyName": "grant_type"},
                }
            }
        },
    }
}
_REVOKE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            oauth.FORM: {
                "schema": {
                    "type": "object",
                    **_ANY_OTHER,
                    "required": ["token"],
                    "properties": {
                        "token": _TEXT,
                        # RFC 7009 2.1: a hint only; an unknown one is ignored, the token searched for anyway.
                        "token_type_hint": {**_OPTIONAL, "description": "`refresh_token` or `access_token`; a hint only."},
                    },
                }
            }
        },
    }
}


@router.get(
    "/.well-known/jwks.json",
    response_model=Jwks,
    tags=["auth"],
    summary="The public keys that verify access tokens (JWKS)",
    dependencies=[Public],
)
async def jwks(request: Request) -> JSONResponse:
    """Every key a current token may be signed with: the active one, one about to sign, and
    retired ones until their last tokens have expired. Fetch again on an unknown `kid`."""
    settings = request.app.state.settings
    document = await request.app.state.keystore.jwks()
    return JSONResponse(document, headers={"Cache-Control": f"public, max-age={settings.jwks_max_age}"})


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    tags=["auth"],
    summary="Get an access token (OAuth 2.0 token endpoint)",
    dependencies=[Public],
    openapi_extra=_FORM_BODY,
    responses=problem_responses(
        "token_request_invalid", "unsupported_grant_type", "invalid_scope", "invalid_client",
        "invalid_credentials", "invalid_refresh_token", "login_throttled",
    ),
)
async def token(request: Request, session: DbSession) -> JSONResponse:
    """RFC 6749, form-encoded. `grant_type=password` (username, password) for people;
    `grant_type=client_credentials` (client_id and client_secret, by HTTP Basic or in the form;
    optional `scope`, within the client's scopes) for machine clients; `grant_type=refresh_token`
    (refresh_token) to renew a person's token: the refresh token is used up and a new one
    returned, and presenting a used one again revokes every token of that sign-in, except
    within a few seconds of its use (`SPROUT_REFRESH_TOKEN_REUSE_GRACE`, two tabs refreshing
    at once), when it gets the same new refresh token again.

    Errors are problem+json with `code`, and also RFC 6749's `error`."""
    try:
        params = await oauth.form(request)
        grant = oauth.required(params, "grant_type")
        scopes = oauth.scopes_of(params.get("scope"))
        issuer = request.app.state.token_issuer
        if grant == "password":
            issued = await service.password_grant(
                session, issuer, username=oauth.required(params, "username"),
                password=oauth.required(params, "password"), scopes=scopes,
            )
        elif grant == "client_credentials":
            issued = await service.client_credentials_grant(
                session, issuer, creds=oauth.client_credentials(request, params), scopes=scopes
            )
        elif grant == "refresh_token":
            issued = await service.refresh_grant(
                session, issuer, refresh_token=oauth.required(params, "refresh_token"), scopes=scopes
            )
        else:
            raise ProblemError("unsupported_grant_type", grant_type=grant[:50])
    except ProblemError as exc:
        # Returned, not raised, so the transaction commits what a failure must leave behind:
        # the failed sign-in counted, a reused refresh token's family revoked.
        return oauth.error_response(request, exc)
    body = TokenResponse(
        access_token=issued.access_token, expires_in=issued.expires_in, refresh_token=issued.refresh_token, scope=issued.scope
    )
    return JSONResponse(body.model_dump(exclude_none=True), headers=oauth.NO_STORE)


@router.post(
    "/auth/revoke",
    tags=["auth"],
    summary="Revoke a refresh token (RFC 7009)",
    dependencies=[Public],
    openapi_extra=_REVOKE_BODY,
    responses={200: {"description": "Revoked, or not a token we know (RFC 7009 2.2)."}}
    | problem_responses("token_request_invalid", "unsupported_token_type"),
)
async def revoke(request: Request, session: DbSession) -> JSONResponse:
    """Revokes the refresh token and every token of the same sign-in (sign out). Answers 200
    for a token it does not know. Access tokens cannot be revoked: they expire on their own."""
    try:
        params = await oauth.form(request)
        await service.revoke(
            session, request.app.state.token_issuer, request.app.state.token_verifier,
            token=oauth.required(params, "token"), hint=params.get("token_type_hint"),
        )
    except ProblemError as exc:
        return oauth.error_response(request, exc)
    return JSONResponse({}, headers=oauth.NO_STORE)


@router.get(
    "/auth/me",
    response_model=Me,
    tags=["auth"],
    summary="The caller: profile, roles, school, and a guardian's children",
)
async def me(principal: CurrentPrincipal, session: DbSession) -> Me:
    return Me.model_validate(await service.me(session, principal))


# ---------------------------------------------------------------- machine clients (admin)


@router.get(
    "/auth/clients",
    response_model=Page[ClientOut],
    tags=["auth"],
    summary="List machine clients",
    dependencies=[Admin],
)
async def list_clients(session: DbSession, page: PageParams) -> Page[ClientOut]:
    return await paginate(
        session, select(Client), order_by=(Client.created_at.desc(), Client.id.desc()), params=page, item=ClientOut.of
    )


@router.post(
    "/auth/clients",
    response_model=ClientWithSecret,
    status_code=201,
    tags=["auth"],
    summary="Create a machine client (its secret is shown once)",
    dependencies=[Admin],
    responses=problem_responses("client_id_taken", "client_partner_required", "client_partner_unknown"),
)
async def create_client(body: ClientIn, session: DbSession) -> JSONResponse:
    """No Idempotency-Key here: its stored replay would keep the secret in the database. A
    retry is harmless anyway: the client_id is unique, so it answers 409 `client_id_taken`."""
    client, secret = await service.create_client(
        session, client_id=body.client_id, name=body.name, role=body.role, scopes=body.scopes, partner_id=body.partner_id
    )
    out = ClientWithSecret(**ClientOut.of(client).model_dump(), client_secret=secret)
    return JSONResponse(out.model_dump(mode="json"), status_code=201, headers={"Cache-Control": "no-store"})


@router.get(
    "/auth/clients/{client_id}",
    response_model=ClientOut,
    tags=["auth"],
    summary="One machine client",
    dependencies=[Admin],
    responses=problem_responses("client_not_found"),
)
async def get_client(client_id: ClientIdPath, session: DbSession) -> ClientOut:
    return ClientOut.of(await service.get_client(session, client_id))


@router.patch(
    "/auth/clients/{client_id}",
    response_model=ClientOut,
    tags=["auth"],
    summary="Rename, re-scope, disable or enable a machine client",
    dependencies=[Admin],
    responses=problem_responses("client_not_found"),
)
async def update_client(client_id: ClientIdPath, body: ClientPatch, session: DbSession) -> ClientOut:
    """A disabled client gets no new tokens, and every service refuses those it holds within a second."""
    client = await service.update_client(session, client_id, name=body.name, scopes=body.scopes, disabled=body.disabled)
    return ClientOut.of(client)


@router.post(
    "/auth/clients/{client_id}/secret",
    response_model=ClientWithSecret,
    tags=["auth"],
    summary="Give a machine client a new secret (the old one stops working)",
    dependencies=[Admin],
    responses=problem_responses("client_not_found"),
)
async def reset_client_secret(client_id: ClientIdPath, session: DbSession) -> JSONResponse:
    """The tokens got with the old secret stop working too, at every service within a second."""
    client, secret = await service.reset_client_secret(session, client_id)
    out = ClientWithSecret(**ClientOut.of(client).model_dump(), client_secret=secret)
    return JSONResponse(out.model_dump(mode="json"), headers={"Cache-Control": "no-store"})
