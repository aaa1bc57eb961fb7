"""Who may call a route, declared on the route itself.

Every route states its rule with one dependency from this module: `Public`, `Authenticated`,
or `require(roles..., scopes=...)`. A test walks every route of every app and fails on a
route without one. The rule verifies the bearer token (signature, expiry, issuer, audience;
see shared/tokens.py) and hands the route the caller's `Principal`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlowPassword, OAuthFlows
from fastapi.security import OAuth2

from shared.problems import ProblemError
from shared.tokens import SERVICE, Principal, TokenError

# The roles a person's account may hold.
USER_ROLES = ("admin", "staff", "expert", "mentor", "coordinator", "student", "guardian", "partner")
# SERVICE (shared/tokens.py): a Sprout service calling another with its own client-credentials
# token; held only by a machine client, whatever a person's token says.
# Every role a token may carry, and so every role a route may name.
ROLES = (*USER_ROLES, SERVICE)
# The roles a machine client (gateway.client) may hold.
CLIENT_ROLES = ("partner", SERVICE)

# Declares the bearer scheme in OpenAPI with the gateway's two flows (people sign in with the
# password grant, machine clients with client credentials), so the docs page can get a token
# either way and send it. The token URL is relative: the combined docs are served by the gateway.
bearer_scheme = OAuth2(
    flows=OAuthFlows(
        password=OAuthFlowPassword(tokenUrl="/auth/token", scopes={}),
        clientCredentials=OAuthFlowClientCredentials(tokenUrl="/auth/token", scopes={}),
    ),
    scheme_name="OAuth2",
    description="Sign in at `/auth/token`: people with the password grant, machine clients with client credentials.",
    auto_error=False,
)


async def allow_public(request: Request) -> None:
    """Anyone may call this route, with or without a token."""


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(request: Request) -> Principal:
    """The verified caller of this request; 401 problem when there is no valid token."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = _bearer(request)
    challenge = {"WWW-Authenticate": 'Bearer realm="sprout"'}
    if token is None:
        raise ProblemError("not_authenticated", headers=challenge)
    verifier = request.app.state.token_verifier
    try:
        principal = await verifier.verify(token)
    except TokenError as exc:
        raise ProblemError(
            exc.code, headers={"WWW-Authenticate": 'Bearer realm="sprout", error="invalid_token"'}
        ) from None
    request.state.principal = principal
    request.state.principal_id = principal.id
    return principal


class AccessRule:
    """A route's access rule: a valid token, then any one of `roles` (if given) and all `scopes`."""

    # What the rule answers (shared/openapi.py declares them on every operation it guards).
    UNAUTHENTICATED = ("not_authenticated", "invalid_token", "token_expired")
    FORBIDDEN = ("forbidden", "insufficient_scope")

    def __init__(self, roles: Iterable[str] = (), scopes: Iterable[str] = ()) -> None:
        self.roles = tuple(roles)
        self.scopes = tuple(scopes)
        unknown = set(self.roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}")

    @property
    def description(self) -> str:
        parts = []
        if self.roles:
            parts.append("roles: " + ", ".join(self.roles))
        if self.scopes:
            parts.append("scopes: " + " ".join(self.scopes))
        return "; ".join(parts) or "authenticated"

    async def __call__(
        self, request: Request, _token: Annotated[str | None, Depends(bearer_scheme)] = None
    ) -> Principal:
        principal = await authenticate(request)
        if self.roles and not principal.has_role(*self.roles):
            raise ProblemError("forbidden", roles=", ".join(self.roles))
        if self.scopes and not principal.has_scopes(*self.scopes):
            raise ProblemError("insufficient_scope", scopes=" ".join(self.scopes))
        return principal


def require(*roles: str, scopes: Iterable[str] = ()) -> AccessRule:
    """The rule for a route callable by any of `roles` (and holding `scopes`)."""
    return AccessRule(roles, scopes)


Public = Depends(allow_public)
Authenticated = Depends(AccessRule())

# Typed forms for a route that wants the caller: `principal: CurrentPrincipal`.
CurrentPrincipal = Annotated[Principal, Depends(AccessRule())]


def rule_of(route) -> str | None:
    """The declared access rule of a route, or None when it declares none."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    for dep in dependant.dependencies:
        if dep.call is allow_public:
            return "public"
        if isinstance(dep.call, AccessRule):
            return dep.call.description
    return None
