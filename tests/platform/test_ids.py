"""Ids as tokens and requests carry them (shared/ids.py)."""

from __future__ import annotations

import uuid

import pytest

from shared.ids import as_uuid


def test_a_persons_id_is_a_uuid_and_a_machine_clients_is_not():
    person = uuid.uuid4()
    assert as_uuid(str(person)) == person
    assert as_uuid(str(person).upper()) == person
    assert as_uuid("selection-service") is None
    assert as_uuid(None) is None


@pytest.mark.parametrize("text", ["", " ", "0" * 31, "0" * 33, "{not-a-uuid}", "\x00" * 36])
def test_anything_else_is_none_never_an_exception(text):
    assert as_uuid(text) is None
