"""ETags and If-Match (shared/etag.py): an update names the version it read, or is refused."""

from __future__ import annotations

import uuid

import pytest

from shared.etag import check_if_match, etag, matches
from shared.problems import ProblemError
from tests.platform.conftest import assert_problem


@pytest.mark.parametrize(
    "header, version, expected",
    [
        ('"3"', 3, True),
        ('"2"', 3, False),
        ('"1", "3"', 3, True),
        (' "3" ', 3, True),
        ("*", 9, True),
        ('W/"3"', 3, False),  # If-Match compares strongly (RFC 9110 13.1.1)
        ("3", 3, False),
        ('"33"', 3, False),
    ],
)
def test_if_match_names_the_version_or_not(header, version, expected):
    assert matches(header, version) is expected


def test_an_update_without_if_match_or_with_a_stale_one_is_refused():
    check_if_match('"4"', 4)
    with pytest.raises(ProblemError) as missing:
        check_if_match(None, 4)
    assert (missing.value.code, missing.value.status) == ("precondition_required", 428)
    with pytest.raises(ProblemError) as stale:
        check_if_match('"3"', 4)
    assert (stale.value.code, stale.value.status, stale.value.params) == ("precondition_failed", 412, {"etag": etag(4)})


async def test_two_people_renaming_one_record_the_second_is_told_it_changed(sample):
    created = await sample.post("/gadgets", json={"batch": str(uuid.uuid4()), "code": f"E-{uuid.uuid4().hex[:8]}", "name": "a"})
    assert created.status_code == 201 and created.headers["ETag"] == '"1"'
    url = f"/gadgets/{created.json()['id']}"
    read = await sample.get(url)
    assert read.headers["ETag"] == '"1"'

    assert_problem(await sample.patch(url, json={"name": "b"}), 428, "precondition_required")
    first = await sample.patch(url, json={"name": "b"}, headers={"If-Match": read.headers["ETag"]})
    assert first.status_code == 200 and first.headers["ETag"] == '"2"' and first.json()["version"] == 2
    second = await sample.patch(url, json={"name": "c"}, headers={"If-Match": read.headers["ETag"], "Accept-Language": "zh"})
    body = assert_problem(second, 412, "precondition_failed")
    assert '"2"' in body["detail"]
    assert (await sample.get(url)).json()["name"] == "b"

    anyway = await sample.patch(url, json={"name": "c"}, headers={"If-Match": "*"})
    assert anyway.status_code == 200 and anyway.headers["ETag"] == '"3"'


async def test_a_rename_into_a_taken_name_is_a_409_and_changes_nothing(sample_committed):
    sample = sample_committed.client
    batch = str(uuid.uuid4())
    for name in ("left", "right"):
        assert (await sample.post("/gadgets", json={"batch": batch, "code": f"N-{uuid.uuid4().hex[:8]}", "name": name})).status_code == 201
    right = (await sample.post("/gadgets", json={"batch": batch, "code": f"N-{uuid.uuid4().hex[:8]}", "name": "middle"})).json()
    url = f"/gadgets/{right['id']}"
    assert_problem(await sample.patch(url, json={"name": "left"}, headers={"If-Match": '"1"'}), 409, "gadget_name_taken")
    after = await sample.get(url)
    assert after.json()["name"] == "middle" and after.headers["ETag"] == '"1"'
