"""A frontend pages through any list with `next_cursor` and sees every row exactly once, in order."""

import base64
import json
import uuid

import pytest

from tests.platform.conftest import assert_problem
from tests.platform.sample_service.app import Widget, widget_rows

LIMIT = 5


async def add_widgets(session, n: int) -> tuple[uuid.UUID, list[Widget]]:
    batch = uuid.uuid4()
    rows = widget_rows(batch, n)
    session.add_all(rows)
    await session.flush()
    return batch, rows


def expected_ids(rows: list[Widget], order: str) -> list[str]:
    keys = {
        "rank": lambda w: (w.rank, w.id),
        "-rank": lambda w: (-w.rank, _Desc(w.id)),
        "-rank,id": lambda w: (-w.rank, w.id),
        "created": lambda w: (w.created_at, w.id),
    }
    return [str(w.id) for w in sorted(rows, key=keys[order])]


class _Desc:
    """Reverses the order of a value inside a sort key."""

    def __init__(self, value) -> None:
        self.value = value

    def __lt__(self, other: "_Desc") -> bool:
        return other.value < self.value

    def __eq__(self, other) -> bool:
        return self.value == other.value


async def walk(client, path: str, params: dict, limit: int = LIMIT) -> tuple[list[dict], list[dict]]:
    """Follow `next_cursor` to the end; returns all items and every page."""
    items, pages, cursor = [], [], None
    for _ in range(1000):
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = await client.get(path, params=query)
        assert r.status_code == 200, r.text
        page = r.json()
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= limit
        pages.append(page)
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
    raise AssertionError("next_cursor never ended")


@pytest.mark.parametrize("n", [0, 1, LIMIT, LIMIT + 1, 3 * LIMIT + 2])
@pytest.mark.parametrize("order", ["rank", "-rank", "-rank,id", "created"])
async def test_walking_the_pages_yields_every_row_once_in_a_stable_order(sample, session, n, order):
    batch, rows = await add_widgets(session, n)
    items, pages = await walk(sample, "/widgets", {"batch": str(batch), "order": order})
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)), "a row came twice"
    assert ids == expected_ids(rows, order)
    # Full pages until the last; no empty page after a full one.
    assert len(pages) == max(1, -(-n // LIMIT))
    assert all(len(p["items"]) == LIMIT for p in pages[:-1])
    # Walking again gives the same order, ties included.
    again, _ = await walk(sample, "/widgets", {"batch": str(batch), "order": order})
    assert [i["id"] for i in again] == ids


async def test_a_list_of_selected_columns_pages_the_same_way(sample, session):
    batch, rows = await add_widgets(session, 3 * LIMIT + 2)
    items, _ = await walk(sample, "/widgets/summaries", {"batch": str(batch)})
    assert [i["id"] for i in items] == expected_ids(rows, "-rank,id")
    assert all(set(i) == {"id", "rank"} for i in items)


async def test_the_default_page_is_fifty_and_the_largest_two_hundred(sample, session):
    batch, _ = await add_widgets(session, 201)
    r = await sample.get("/widgets", params={"batch": str(batch)})
    assert len(r.json()["items"]) == 50
    r = await sample.get("/widgets", params={"batch": str(batch), "limit": 200})
    assert len(r.json()["items"]) == 200 and r.json()["next_cursor"]


async def test_rows_added_and_removed_while_paging_never_repeat_or_hide_the_others(sample, session):
    batch, rows = await add_widgets(session, 3 * LIMIT)
    first = (await sample.get("/widgets", params={"batch": str(batch), "limit": LIMIT})).json()
    seen = [i["id"] for i in first["items"]]
    # Meanwhile: a row sorting before the cursor, one after it, and a deleted unseen row.
    newcomers = widget_rows(batch, 2)
    newcomers[0].rank, newcomers[1].rank = -1, 99
    session.add_all(newcomers)
    unseen = [w for w in rows if str(w.id) not in seen]
    await session.delete(unseen[0])
    await session.flush()
    cursor = first["next_cursor"]
    while cursor:
        page = (await sample.get("/widgets", params={"batch": str(batch), "limit": LIMIT, "cursor": cursor})).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen))
    survivors = {str(w.id) for w in rows} - {str(unseen[0].id)}
    assert survivors <= set(seen)
    assert str(newcomers[1].id) in seen  # after the cursor: shows up
    assert str(newcomers[0].id) not in seen  # before it: belongs to a page already read


def _cursor_of(data) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _decode(cursor: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


async def test_a_tampered_cursor_is_400_invalid_cursor_never_500(sample, session):
    batch, _ = await add_widgets(session, LIMIT + 1)
    params = {"batch": str(batch), "limit": LIMIT}
    good = (await sample.get("/widgets", params={**params, "order": "created"})).json()["next_cursor"]
    data = _decode(good)
    assert (await sample.get("/widgets", params={**params, "order": "created", "cursor": good})).status_code == 200

    flipped = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
    tampered = [
        "not a cursor",
        "!!!!",
        "é",
        flipped,
        good[: len(good) // 2],
        _cursor_of([1, 2]),
        _cursor_of({"o": data["o"], "k": data["k"][:1]}),  # too few values
        _cursor_of({"o": "0123456789", "k": data["k"]}),  # another ordering's
        _cursor_of({"o": data["o"], "k": ["2026-09-01", data["k"][1]]}),  # a string where a time goes
        _cursor_of({"o": data["o"], "k": [{"dt": "yesterday"}, data["k"][1]]}),
        _cursor_of({"o": data["o"], "k": [data["k"][0], {"u": "not-a-uuid"}]}),
        _cursor_of({"o": data["o"], "k": [data["k"][0], 7]}),
        _cursor_of({"o": data["o"], "k": [data["k"][0], None]}),
        _cursor_of({"o": data["o"], "k": [data["k"][0], [1]]}),
    ]
    for cursor in tampered:
        r = await sample.get("/widgets", params={**params, "order": "created", "cursor": cursor})
        assert_problem(r, 400, "invalid_cursor")
    # A cursor of one sort order is refused by another.
    r = await sample.get("/widgets", params={**params, "order": "rank", "cursor": good})
    assert_problem(r, 400, "invalid_cursor")


async def test_cursor_values_the_database_would_choke_on_are_400(sample, session):
    batch, _ = await add_widgets(session, LIMIT + 1)
    params = {"batch": str(batch), "limit": LIMIT, "order": "rank"}
    good = (await sample.get("/widgets", params=params)).json()["next_cursor"]
    data = _decode(good)
    assert isinstance(data["k"][0], int)
    for rank in (2**31, -(2**40), "3", True, 1.5, {"n": "1"}):
        cursor = _cursor_of({"o": data["o"], "k": [rank, data["k"][1]]})
        r = await sample.get("/widgets", params={**params, "cursor": cursor})
        assert_problem(r, 400, "invalid_cursor")


@pytest.mark.parametrize("limit", ["0", "-1", "201", "ten", "1.5"])
async def test_a_limit_out_of_range_is_422(sample, limit):
    r = await sample.get("/widgets", params={"batch": str(uuid.uuid4()), "limit": limit})
    body = assert_problem(r, 422, "validation_failed")
    assert [e["loc"] for e in body["errors"]] == [["query", "limit"]]


async def test_an_overlong_cursor_is_422(sample):
    r = await sample.get("/widgets", params={"batch": str(uuid.uuid4()), "cursor": "A" * 5000})
    body = assert_problem(r, 422, "validation_failed")
    assert [e["loc"] for e in body["errors"]] == [["query", "cursor"]]


async def test_the_list_is_documented_for_frontends(sample):
    spec = (await sample.get("/openapi.json")).json()
    op = spec["paths"]["/widgets"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 200 and params["limit"]["schema"]["default"] == 50
    assert "next_cursor" in params["cursor"]["description"]
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = spec["components"]["schemas"][ref.split("/")[-1]]
    assert set(page["properties"]) == {"items", "next_cursor"}
    assert page["properties"]["next_cursor"]["description"]
