"""Ids as the API and tokens carry them: text that may or may not be a UUID."""

from __future__ import annotations

import uuid
from collections.abc import Iterable


def as_uuid(value: str | None) -> uuid.UUID | None:
    """`value` as a UUID, or None when it is none or not one.

    A token's subject is a person's id (a UUID) or a machine client's client_id (not one), and
    a principal's school or partner may be unset: `as_uuid(principal.id)` is the person's id,
    or None for a machine client, with no exception to catch.
    """
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def first_repeated(values: Iterable[uuid.UUID]) -> uuid.UUID | None:
    """The first id of a list that an earlier one repeats (a mentor named twice), or None."""
    seen: set[uuid.UUID] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None
