"""Every operation of every OpenAPI document, fuzzed by schemathesis with every check on.

The documents are the combined one the gateway serves, the gateway's own, and each
service's own (tests/fuzz/conftest.py); the operations are read from them, so a route is
fuzzed the day it is written. Each document is fuzzed as each role in ROLES, with a real
token. `schemathesis.toml` at the repository root bounds the examples and says which
checks are tuned and why; tests/fuzz/checks.py adds two checks of our contract. Every
request sent is counted, and an operation of a document that was never called fails.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from schemathesis.checks import CHECKS, load_all_checks

from services.gateway.proxy import PROXIED
from tests.fuzz import checks
from tests.fuzz.conftest import ROLES, FuzzedSystem

CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"
DOCUMENTS = ("combined", "gateway", *PROXIED)
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
PHASES = ("examples", "coverage", "fuzzing")


def operations(doc: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item if method in METHODS}


def load(fuzzed: FuzzedSystem, name: str):
    doc, url = fuzzed.documents[name]
    # A configuration of its own: schemathesis keeps the base URL in it.
    schema = schemathesis.openapi.from_dict(doc, config=schemathesis.Config.from_path(CONFIG))
    schema.config.update(base_url=url)
    return schema


@pytest.fixture(params=[(d, r) for d in DOCUMENTS for r in ROLES], ids=lambda p: f"{p[0]}-{p[1]}")
def target(request) -> tuple[str, str]:
    return request.param


@pytest.fixture
def sent(target: tuple[str, str], fuzzed: FuzzedSystem) -> Iterator[Counter]:
    """Requests sent per operation; afterwards, every operation of the document must have had some."""
    counter: Counter = Counter()
    yield counter
    doc, _ = fuzzed.documents[target[0]]
    missing = sorted(operations(doc) - set(counter))
    assert not missing, f"operations of {target[0]} never fuzzed as {target[1]}: {missing}"


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def fuzzed_schema(target: tuple[str, str], fuzzed: FuzzedSystem):
    name, role = target
    schema = load(fuzzed, name)

    # FuzzedSystem.token keeps the token until it is nearly spent; schemathesis need not.
    @schema.auth(refresh_interval=None)
    class Bearer:
        def get(self, case, context):
            return fuzzed.token(role)

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    return schema


schema = schemathesis.pytest.from_fixture("fuzzed_schema")


@schema.parametrize()
def test_every_operation(case, sent: Counter, http: requests.Session) -> None:
    sent[(case.operation.method.upper(), case.operation.path)] += 1
    case.call_and_validate(session=http, timeout=30)


def test_every_check_is_on_for_every_operation_in_every_phase(fuzzed: FuzzedSystem) -> None:
    load_all_checks()
    names = set(CHECKS.get_all_names())
    assert {checks.problem_code_declared.__name__, checks.schema_valid_refused_only_by_a_rule.__name__} <= names
    for name in DOCUMENTS:
        loaded = load(fuzzed, name)
        for result in loaded.get_all_operations():
            operation = result.ok()
            for phase in PHASES:
                config = loaded.config.checks_config_for(operation=operation, phase=phase)
                off = sorted(n for n in names if not config.get_by_name(name=n).enabled)
                assert not off, f"{name} {operation.label} ({phase}): checks off: {off}"
