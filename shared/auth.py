"""Who may call a route, declared on the route itself.

Every route states its rule with one of these dependencies; a test walks every route of
every app and fails on a route without one. Identity and tokens arrive with the gateway's
identity work; until then the only rule is `Public`.
"""

from __future__ import annotations

from fastapi import Depends, Request


async def allow_public(request: Request) -> None:
    """Anyone may call this route, with or without a token."""


Public = Depends(allow_public)

RULES = {allow_public: "public"}


def rule_of(route) -> str | None:
    """The declared access rule of a route, or None when it declares none."""
    for dep in getattr(route, "dependant", None).dependencies if hasattr(route, "dependant") else ():
        if dep.call in RULES:
            return RULES[dep.call]
    return None
