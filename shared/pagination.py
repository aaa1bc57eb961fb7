"""Cursor pagination: the one way every list endpoint pages through its rows.

For frontend developers: a list answers `{"items": [...], "next_cursor": "..."}`. To get the
next page, call the same URL with the same filters and `cursor=<next_cursor>`; when
`next_cursor` is null you have everything. A cursor is opaque: do not build, parse or edit
it (an edited one is refused with 400 `invalid_cursor`), and do not reuse it with a
different sort order. Rows created or deleted while you page never make a page repeat or
skip a row that existed throughout, because a cursor marks a position in the sort order
(keyset pagination), not an offset.

For backend developers::

    @router.get("/courses", response_model=Page[CourseOut], dependencies=[Public])
    async def list_courses(session: DbSession, page: PageParams) -> Page[CourseOut]:
        stmt = select(Course).where(Course.discipline == discipline)
        return await paginate(
            session, stmt, order_by=(Course.created_at.desc(), Course.id.desc()), params=page,
            item=CourseOut.model_validate,
        )

`order_by` must end with a unique column (the id) so the order is total, its columns must be
NOT NULL, and an index on the same columns keeps every page an index range scan. `item` is
optional: without it the route's response model reads the rows (`from_attributes`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import enum
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, ColumnElement, Integer, Select, SmallInteger, and_, literal, or_, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from shared.problems import ProblemError

T = TypeVar("T")

# What a list answers besides its page (shared/openapi.py declares it on every list).
PAGINATION_PROBLEMS = ("invalid_cursor",)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# A cursor holds a handful of sort-key values; anything much longer was not issued by us.
MAX_CURSOR_LENGTH = 1024


class Page(BaseModel, Generic[T]):
    """One page of a list, in a stable order. Follow `next_cursor` until it is null."""

    items: list[T] = Field(description="At most `limit` items, in the list's documented order.")
    next_cursor: str | None = Field(
        description="Pass this as `cursor` (with the same filters) for the next page; null on the last page."
    )


@dataclass(frozen=True)
class PageRequest:
    """Which page the caller asked for: its size and where the previous page ended."""

    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"How many items per page, 1 to {MAX_LIMIT}.")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_LENGTH,
            description=(
                "The `next_cursor` of the previous page; omit it for the first page. "
                "Opaque: pass it back unchanged."
            ),
        ),
    ] = None,
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor)


PageParams = Annotated[PageRequest, Depends(page_params)]


@dataclass(frozen=True)
class _SortKey:
    column: ColumnElement[Any]
    descending: bool

    @classmethod
    def of(cls, element: Any) -> _SortKey:
        if isinstance(element, UnaryExpression):
            if element.modifier is operators.desc_op:
                return cls(element.element, True)
            if element.modifier is operators.asc_op:
                return cls(element.element, False)
            raise ValueError(f"paginate supports plain .asc()/.desc() sort keys, not {element}")
        return cls(element, False)

    @property
    def ordering(self) -> ColumnElement[Any]:
        return self.column.desc() if self.descending else self.column.asc()

    @property
    def signature(self) -> str:
        return f"{self.column}:{'desc' if self.descending else 'asc'}"


def _order_fingerprint(keys: Sequence[_SortKey]) -> str:
    """Ties a cursor to the ordering that issued it, so a cursor of another list or sort is refused."""
    return hashlib.sha256("|".join(k.signature for k in keys).encode()).hexdigest()[:10]


# JSON has no uuid, datetime or decimal; those travel tagged so they decode to the same type.
_TAGS: dict[str, tuple[type, Callable[[Any], str], Callable[[str], Any]]] = {
    "u": (uuid.UUID, str, uuid.UUID),
    "dt": (dt.datetime, dt.datetime.isoformat, dt.datetime.fromisoformat),
    "d": (dt.date, dt.date.isoformat, dt.date.fromisoformat),
    "t": (dt.time, dt.time.isoformat, dt.time.fromisoformat),
    "n": (decimal.Decimal, str, decimal.Decimal),
}


def _encode_value(value: Any) -> Any:
    if value is None:
        raise ValueError("paginate: a sort key column is NULL; sort keys must be NOT NULL columns")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (bool, int, float, str)):
        return value
    for tag, (kind, dump, _) in _TAGS.items():
        if isinstance(value, kind):
            return {tag: dump(value)}
    raise ValueError(f"paginate: cannot put a {type(value).__name__} in a cursor")


def _decode_value(raw: Any) -> Any:
    if isinstance(raw, dict) and len(raw) == 1:
        tag, text = next(iter(raw.items()))
        if tag in _TAGS and isinstance(text, str):
            return _TAGS[tag][2](text)
    if isinstance(raw, (bool, int, float, str)):
        return raw
    raise ValueError("not a cursor value")


_INT_BOUNDS = ((SmallInteger, 2**15), (BigInteger, 2**63), (Integer, 2**31))


def _check_against_column(value: Any, column: ColumnElement[Any]) -> Any:
    """The value, coerced to the column's Python type; ValueError if it cannot be one, so the
    database never sees a value of the wrong type (which would be a 500, not a 400)."""
    try:
        expected = column.type.python_type
    except NotImplementedError:
        return value
    if issubclass(expected, enum.Enum):
        return expected(value)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
        raise ValueError("cursor value of the wrong type")
    if expected is dt.date and isinstance(value, dt.datetime):
        raise ValueError("cursor value of the wrong type")
    if isinstance(value, int):
        for kind, bound in _INT_BOUNDS:
            if isinstance(column.type, kind):
                if not -bound <= value < bound:
                    raise ValueError("cursor value out of range")
                break
    if isinstance(value, decimal.Decimal) and value.is_snan():
        raise ValueError("cursor value is a signalling NaN")
    if isinstance(value, str):
        # PostgreSQL text cannot hold NUL, and lone surrogates are not UTF-8.
        if "\x00" in value:
            raise ValueError("cursor string with NUL")
        value.encode("utf-8")
    return value


def encode_cursor(values: Sequence[Any], fingerprint: str) -> str:
    payload = json.dumps({"o": fingerprint, "k": [_encode_value(v) for v in values]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, keys: Sequence[_SortKey], fingerprint: str) -> list[Any]:
    """The sort-key values a cursor carries; 400 `invalid_cursor` for anything we did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("o") != fingerprint:
            raise ValueError("cursor of another ordering")
        values = data.get("k")
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError("cursor of another shape")
        return [_check_against_column(_decode_value(v), k.column) for v, k in zip(values, keys)]
    except (ValueError, TypeError, UnicodeError, binascii.Error, decimal.InvalidOperation, RecursionError):
        raise ProblemError("invalid_cursor") from None


def _after(keys: Sequence[_SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order of `keys`."""
    bound = [literal(v, k.column.type) for k, v in zip(keys, values)]
    if all(k.descending == keys[0].descending for k in keys):
        # One row comparison, which PostgreSQL answers with a single index range scan.
        left, right = tuple_(*(k.column for k in keys)), tuple_(*bound)
        return left < right if keys[0].descending else left > right
    # Mixed directions: (a > :a) OR (a = :a AND b < :b) OR ...
    clauses = []
    for i, key in enumerate(keys):
        equal = [keys[j].column == bound[j] for j in range(i)]
        step = key.column < bound[i] if key.descending else key.column > bound[i]
        clauses.append(and_(*equal, step))
    return or_(*clauses)


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    order_by: Sequence[Any],
    params: PageRequest,
    item: Callable[[Any], T] | None = None,
) -> Page[T]:
    """Run `stmt` for one page in the order `order_by` (columns, or `col.desc()`; the last one unique).

    Each item is the selected entity or value when `stmt` selects one thing, else a dict of
    the selected columns; `item` converts it (e.g. `CourseOut.model_validate`).
    """
    if not order_by:
        raise ValueError("paginate needs an order ending with a unique column")
    keys = [_SortKey.of(el) for el in order_by]
    fingerprint = _order_fingerprint(keys)
    selected = len(stmt.column_descriptions)
    stmt = stmt.order_by(None).order_by(*(k.ordering for k in keys))
    if params.cursor is not None:
        stmt = stmt.where(_after(keys, decode_cursor(params.cursor, keys, fingerprint)))
    stmt = stmt.add_columns(*(k.column.label(f"_page_key_{i}") for i, k in enumerate(keys)))
    # One row more than asked tells whether another page exists without a COUNT.
    rows = (await session.execute(stmt.limit(params.limit + 1))).all()
    has_more = len(rows) > params.limit
    rows = rows[: params.limit]

    def unpack(row: Any) -> Any:
        if selected == 1:
            return row[0]
        return dict(zip(row._fields[:selected], row[:selected]))

    items = [unpack(r) for r in rows]
    if item is not None:
        items = [item(i) for i in items]
    next_cursor = encode_cursor(rows[-1][selected:], fingerprint) if has_more else None
    return Page[Any](items=items, next_cursor=next_cursor)


def filtered(stmt: Select, filters: Mapping[Any, Any]) -> Select:
    """`stmt` narrowed to `column == value` for each filter a list endpoint was given (its value not None)."""
    return stmt.where(*(column == value for column, value in filters.items() if value is not None))
