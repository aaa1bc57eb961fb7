"""Access tokens for test principals, signed by the gateway's own issuer (its real key store).

Any test that runs the real gateway app can call a route as any role::

    async with running_app(app, session) as client:
        headers = await bearer(app, user)                      # a user row
        headers = await bearer(app, roles=["staff"])           # a made-up person
        headers = await bearer(app, client_id="selection", roles=["service"], kind="client")

The token has the documented claim shape (iss, aud, sub, exp, iat, nbf, jti, typ=access,
kind, roles, scope, school_id, name) and is verified by the app exactly like a real one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any


async def mint(
    app,
    *,
    subject: str,
    roles: Iterable[str],
    kind: str = "user",
    school_id: uuid.UUID | str | None = None,
    scopes: Iterable[str] = (),
    name: str | None = None,
) -> str:
    issuer = app.state.token_issuer
    token, _ = await issuer.access_token(
        subject=subject,
        kind=kind,
        roles=list(roles),
        scopes=frozenset(scopes),
        name=name,
        extra={"school_id": str(school_id) if school_id else None},
    )
    return token


async def bearer(
    app,
    user: Any = None,
    *,
    roles: Iterable[str] | None = None,
    school_id: uuid.UUID | str | None = None,
    client_id: str | None = None,
    kind: str = "user",
    scopes: Iterable[str] = (),
) -> dict[str, str]:
    """`Authorization` headers for `user` (a UserAccount), or for a made-up principal."""
    if user is not None:
        subject, roles, school_id, name = str(user.id), roles or user.roles, school_id or user.school_id, user.display_name
    else:
        subject, name = client_id or str(uuid.uuid4()), None
    token = await mint(app, subject=subject, roles=roles or (), kind=kind, school_id=school_id, scopes=scopes, name=name)
    return {"Authorization": f"Bearer {token}"}
