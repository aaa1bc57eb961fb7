"""Unique inserts with a clean 409 (shared/unique.py), as a domain service uses them: its own constraints mapped to its own codes."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from shared.problems import ProblemError
from shared.unique import flush_unique, insert_unique, unique_or_problem
from tests.platform.conftest import assert_problem
from tests.platform.sample_service.app import GADGET_CONSTRAINTS, Gadget


def gadget(batch: uuid.UUID, code: str, name: str) -> Gadget:
    return Gadget(id=uuid.uuid4(), batch=batch, code=code, name=name, version=1)


async def test_each_constraint_a_create_violates_answers_its_own_409(sample):
    batch = str(uuid.uuid4())
    first = await sample.post("/gadgets", json={"batch": batch, "code": "G-1", "name": "lamp"})
    assert first.status_code == 201, first.text

    same_code = await sample.post("/gadgets", json={"batch": str(uuid.uuid4()), "code": "G-1", "name": "other"})
    body = assert_problem(same_code, 409, "gadget_code_taken")
    assert "G-1" in body["detail"]

    same_name = await sample.post(
        "/gadgets", json={"batch": batch, "code": "G-2", "name": "lamp"}, headers={"Accept-Language": "zh"}
    )
    body = assert_problem(same_name, 409, "gadget_name_taken")
    assert body["detail"] == f"批次 {batch} 中已有名为 lamp 的部件。"

    elsewhere = await sample.post("/gadgets", json={"batch": str(uuid.uuid4()), "code": "G-3", "name": "lamp"})
    assert elsewhere.status_code == 201, elsewhere.text


async def test_the_transaction_goes_on_after_a_conflict(session):
    batch = uuid.uuid4()
    await insert_unique(session, gadget(batch, "T-1", "a"), "gadget_code_taken", constraints=GADGET_CONSTRAINTS)
    with pytest.raises(ProblemError) as lost:
        await insert_unique(session, gadget(batch, "T-1", "b"), "gadget_code_taken", constraints=GADGET_CONSTRAINTS)
    assert (lost.value.code, lost.value.status) == ("gadget_code_taken", 409)
    # Only the savepoint rolled back: the first row stays and the session takes more writes.
    await insert_unique(session, gadget(batch, "T-2", "b"), "gadget_code_taken", constraints=GADGET_CONSTRAINTS)
    count = await session.scalar(select(func.count()).select_from(Gadget).where(Gadget.batch == batch))
    assert count == 2


async def test_a_constraint_the_mapping_does_not_name_answers_the_calls_code(session):
    batch = uuid.uuid4()
    await insert_unique(session, gadget(batch, "U-1", "a"), "gadget_code_taken")
    with pytest.raises(ProblemError) as lost:
        await insert_unique(session, gadget(batch, "U-2", "a"), "gadget_code_taken", gadget_code="U-2")
    assert lost.value.code == "gadget_code_taken" and lost.value.params == {"gadget_code": "U-2"}


async def test_an_update_that_collides_answers_the_constraints_code(session):
    batch = uuid.uuid4()
    await insert_unique(session, gadget(batch, "V-1", "a"), "gadget_code_taken", constraints=GADGET_CONSTRAINTS)
    second = gadget(batch, "V-2", "b")
    await insert_unique(session, second, "gadget_code_taken", constraints=GADGET_CONSTRAINTS)
    second.name = "a"
    with pytest.raises(ProblemError) as lost:
        await flush_unique(session, "gadget_code_taken", constraints=GADGET_CONSTRAINTS, batch=batch, name="a")
    assert lost.value.code == "gadget_name_taken"


async def test_any_other_integrity_error_is_no_conflict_and_is_raised_as_it_is(session):
    with pytest.raises(IntegrityError) as broken:
        await insert_unique(session, gadget(uuid.uuid4(), "", "empty"), "gadget_code_taken", constraints=GADGET_CONSTRAINTS)
    assert "ck_gadget_code_not_empty" in str(broken.value.orig)


async def test_a_raw_statement_in_the_block_is_covered_too(session):
    batch = uuid.uuid4()
    await insert_unique(session, gadget(batch, "W-1", "a"), "gadget_code_taken", constraints=GADGET_CONSTRAINTS)
    with pytest.raises(ProblemError) as lost:
        async with unique_or_problem(session, "gadget_code_taken", constraints=GADGET_CONSTRAINTS):
            await session.execute(
                text("INSERT INTO platform_sample.gadget (id, batch, code, name) VALUES (:id, :batch, 'W-2', 'a')"),
                {"id": uuid.uuid4(), "batch": batch},
            )
    assert lost.value.code == "gadget_name_taken"
