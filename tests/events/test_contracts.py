"""Event contracts: one model per type and version; publishers are strict, consumers tolerant."""

from __future__ import annotations

import pytest

from shared.events import Consumer, EventContract, UnknownEventType, contracts, publish
from tests.events.support import Ping, unique


class Other(EventContract):
    name: str


def test_a_type_and_version_has_one_contract():
    event_type = unique("test.contract")
    try:
        contracts.register(event_type, 1, Ping)
        contracts.register(event_type, 1, Ping)  # the same model again is harmless (re-import)
        with pytest.raises(ValueError, match="already has a contract"):
            contracts.register(event_type, 1, Other)
        contracts.register(event_type, 2, Other)
        assert contracts.lookup(event_type, 1) is Ping and contracts.lookup(event_type, 2) is Other
        assert event_type in contracts.known_types()
    finally:
        contracts.unregister(event_type, 1)
        contracts.unregister(event_type, 2)


@pytest.mark.parametrize("bad", ["courses", "Courses.Registration", "courses..confirmed", "courses.registration confirmed"])
def test_event_types_are_dotted_lower_snake_words(bad):
    with pytest.raises(ValueError):
        contracts.register(bad, 1, Ping)


def test_a_consumer_subscribes_only_to_types_that_have_a_contract(ping_type):
    async def handle(session, event):
        return None

    with pytest.raises(UnknownEventType):
        Consumer("tracking", {"no.such.event": handle})
    with pytest.raises(ValueError):
        Consumer("Tracking Service", {ping_type: handle})
    assert Consumer("tracking.read_model", {ping_type: handle}).event_types == [ping_type]


def test_a_consumer_ignores_fields_its_copy_of_the_contract_does_not_know(ping_type):
    # A producer a release ahead may add an optional field without a new version.
    assert contracts.parse_for_consumer(ping_type, 1, {"seq": 3, "added_later": True}) == Ping(seq=3)
    # A version this process has no contract for reaches the handler as the plain payload.
    assert contracts.parse_for_consumer(ping_type, 9, {"seq": 3}) == {"seq": 3}


async def test_publish_takes_the_contract_model_of_its_own_type_only(session, ping_type):
    with pytest.raises(TypeError):
        await publish(session, type=ping_type, subject="s", payload=Other(name="x"), source="tests")
