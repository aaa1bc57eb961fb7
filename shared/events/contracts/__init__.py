"""Event contracts: one pydantic model per (event type, version), the one place producers and consumers agree.

A producing service adds a module here named after itself (`courses.py`) with its models:

    @contract("courses.registration.confirmed", 1)
    class RegistrationConfirmed(EventContract):
        registration_id: UUID
        student_id: UUID

Every module of this package is imported when the package is, so the registry is complete
wherever `shared.events` is used, and a consumer never imports its producer. `publish`
refuses a type that is not registered and a payload that does not validate. A change that
removes or retypes a field is a new version; adding an optional field is not, because
consumers ignore fields their copy of the contract does not know.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")

M = TypeVar("M", bound=type[BaseModel])


class EventContract(BaseModel):
    """Base of every event payload: a producer may not send a field the contract does not declare."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class UnknownEventType(LookupError):
    """A (type, version) with no contract: a programming error, caught by the contract tests."""


_registry: dict[tuple[str, int], type[BaseModel]] = {}


def register(type: str, version: int, model: type[BaseModel]) -> type[BaseModel]:
    if not TYPE_PATTERN.match(type) or len(type) > 200:
        raise ValueError(f"event type {type!r} must be dotted lower_snake words, e.g. courses.registration.confirmed")
    if version < 1:
        raise ValueError("event versions start at 1")
    existing = _registry.get((type, version))
    if existing is not None and existing is not model:
        raise ValueError(f"{type} v{version} already has a contract: {existing.__qualname__}")
    _registry[(type, version)] = model
    return model


def unregister(type: str, version: int) -> None:
    """For tests that register throwaway contracts."""
    _registry.pop((type, version), None)


def contract(type: str, version: int = 1) -> Callable[[M], M]:
    """Class decorator: the payload model of `type` at `version`."""

    def decorate(model: M) -> M:
        register(type, version, model)
        return model

    return decorate


def find(type: str, version: int) -> type[BaseModel] | None:
    return _registry.get((type, version))


def lookup(type: str, version: int) -> type[BaseModel]:
    model = _registry.get((type, version))
    if model is None:
        raise UnknownEventType(f"no contract for event type {type!r} version {version}")
    return model


def known_types() -> frozenset[str]:
    return frozenset(t for t, _ in _registry)


def validate_for_publish(type: str, version: int, payload: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """The payload as stored: validated against its contract and dumped to JSON-ready values."""
    model = lookup(type, version)
    if isinstance(payload, BaseModel):
        if not isinstance(payload, model):
            raise TypeError(f"{type} v{version} takes a {model.__qualname__}, not a {payload.__class__.__qualname__}")
        return payload.model_dump(mode="json")
    return model.model_validate(dict(payload)).model_dump(mode="json")


def parse_for_consumer(type: str, version: int, payload: Mapping[str, Any]) -> BaseModel | dict[str, Any]:
    """The payload as a handler sees it: its contract model, or the plain dict when this process
    does not know that version (a producer deployed before its consumer)."""
    model = _registry.get((type, version))
    if model is None:
        return dict(payload)
    known = {k: v for k, v in payload.items() if k in model.model_fields or _is_alias(model, k)}
    return model.model_validate(known)


def _is_alias(model: type[BaseModel], key: str) -> bool:
    return any(f.alias == key or f.validation_alias == key for f in model.model_fields.values())


def _import_contract_modules() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_import_contract_modules()
