"""The combined OpenAPI document: every service's API under `/api/<service>`, plus the gateway's own.

Built from each service's live `/openapi.json`, so it always describes what is deployed;
cached briefly; a service that does not answer is left out and named in `info.description`
instead of failing the whole document.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from fastapi import FastAPI, Request
from starlette.responses import Response

from shared.auth import Public
from shared.openapi import add_problem_schema, set_problems
from shared.routes import APIRouter

from services.gateway.proxy import PROXIED
from services.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_REF_PREFIX = "#/components/"
# Seconds an incomplete document is kept: long enough to spare a down service a stampede,
# short enough that it reappears as soon as it is back.
_INCOMPLETE_CACHE_SECONDS = 1.0

Renames = dict[tuple[str, str], str]


def _rewrite(node: Any, renames: Renames) -> Any:
    """A copy of `node` whose `$ref`s (and discriminator mappings) follow `renames`."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                out[k] = _renamed_ref(v, renames)
            elif k == "mapping" and isinstance(v, dict):
                out[k] = {mk: _renamed_ref(mv, renames) if isinstance(mv, str) else _rewrite(mv, renames) for mk, mv in v.items()}
            else:
                out[k] = _rewrite(v, renames)
        return out
    if isinstance(node, list):
        return [_rewrite(x, renames) for x in node]
    return node


def _renamed_ref(ref: str, renames: Renames) -> str:
    if not renames or not ref.startswith(_REF_PREFIX):
        return ref
    kind, _, name = ref[len(_REF_PREFIX) :].partition("/")
    new = renames.get((kind, name))
    return f"{_REF_PREFIX}{kind}/{new}" if new else ref


def _plan_renames(service: str, components: Mapping[str, Mapping[str, Any]], merged: Mapping[str, Mapping[str, Any]]) -> Renames:
    """Which of `service`'s components must take a new name so no different one is overwritten.

    A component keeps its name when the merged document has none by that name or the same
    one. Renaming one changes the `$ref`s of those that point at it, which may make them
    differ in turn, so this runs until nothing more needs a new name.
    """
    renames: Renames = {}
    taken = {(kind, n) for kind, items in merged.items() for n in items}
    taken |= {(kind, n) for kind, items in components.items() for n in items}
    changed = True
    while changed:
        changed = False
        for kind, items in components.items():
            for name, obj in items.items():
                if (kind, name) in renames:
                    continue
                existing = merged.get(kind, {}).get(name)
                if existing is not None and existing != _rewrite(obj, renames):
                    new = f"{service}.{name}"
                    n = 2
                    while (kind, new) in taken:
                        new = f"{service}.{name}.{n}"
                        n += 1
                    taken.add((kind, new))
                    renames[(kind, name)] = new
                    changed = True
    return renames


def _add_components(merged: dict[str, dict[str, Any]], components: Mapping[str, Mapping[str, Any]], renames: Renames) -> None:
    for kind, items in components.items():
        target = merged.setdefault(kind, {})
        for name, obj in items.items():
            new = renames.get((kind, name), name)
            if new not in target:
                target[new] = _rewrite(obj, renames)


def _rename_security(operation: dict[str, Any], renames: Renames) -> None:
    # Security requirements name their schemes directly rather than by $ref.
    if "security" in operation and renames:
        operation["security"] = [
            {renames.get(("securitySchemes", k), k): v for k, v in requirement.items()}
            for requirement in operation["security"]
        ]


def _tag(service: str, tags: list[str] | None) -> list[str]:
    return [f"{service}/{t}" for t in tags] if tags else [service]


# What the gateway itself may answer for any operation it proxies (services/gateway/proxy.py
# and limits/edge.py), beside what the service answers.
PROXY_PROBLEMS = ("rate_limited", "invalid_path", "service_unavailable", "service_timeout")


def merge(
    gateway: dict[str, Any],
    services: Mapping[str, dict[str, Any] | None],
    *,
    notes: Mapping[str, str] | None = None,
    proxy_problems: tuple[str, ...] = PROXY_PROBLEMS,
) -> dict[str, Any]:
    """One OpenAPI document from the gateway's own and each service's (None: it did not answer).

    Pure, so it is tested with plain documents. Services' paths move under `/api/<name>`,
    their operations are tagged `<name>` or `<name>/<tag>`, operationIds are kept (they are
    already unique: `<service>_<function>`), and components are merged by name, a
    different component under a taken name being renamed `<service>.<name>` with every
    `$ref` to it rewritten.
    """
    doc = copy.deepcopy(gateway)
    components: dict[str, dict[str, Any]] = doc.setdefault("components", {})
    paths: dict[str, Any] = {}
    tags: dict[str, str] = {}

    def collect(service: str, spec: dict[str, Any], prefix: str, description: str | None = None) -> None:
        renames = _plan_renames(service, spec.get("components", {}), components)
        _add_components(components, spec.get("components", {}), renames)
        info = spec.get("info", {})
        description = description or info.get("description") or info.get("title") or service
        # A service's document-wide requirement would be lost in the combined document (only
        # the gateway's stays document-wide), so its operations carry it themselves.
        inherited = spec.get("security") if spec is not gateway else None
        for path, item in spec.get("paths", {}).items():
            item = _rewrite(item, renames)
            for method in _METHODS:
                operation = item.get(method)
                if operation is None:
                    continue
                if inherited is not None and "security" not in operation:
                    operation["security"] = copy.deepcopy(inherited)
                if spec is not gateway:
                    set_problems(operation, proxy_problems)
                operation["tags"] = _tag(service, operation.get("tags"))
                for t in operation["tags"]:
                    tags.setdefault(t, description)
                _rename_security(operation, renames)
            paths[prefix + path] = item

    collect("gateway", gateway, "", "The gateway's own operations.")
    present, missing = [], []
    for name, spec in services.items():
        if spec is None:
            missing.append(name)
            continue
        present.append(name)
        collect(name, spec, f"/api/{name}")

    doc["paths"] = paths
    doc["tags"] = [{"name": t, "description": d} for t, d in sorted(tags.items())]
    if present:
        add_problem_schema(doc)
    if not components:
        doc.pop("components")
    info = doc.setdefault("info", {})
    lines = [info.get("description") or ""]
    lines.append("Services in this document: " + (", ".join(f"`{n}`" for n in present) or "none") + ".")
    if missing:
        why = notes or {}
        lines.append(
            "**Left out, because they did not answer:** "
            + ", ".join(f"`{n}`" + (f" ({why[n]})" if n in why else "") for n in missing)
            + ". Reload to try again."
        )
    info["description"] = "\n\n".join(line for line in lines if line)
    info["x-services"] = {"present": present, "missing": missing}
    return doc


class CombinedOpenAPI:
    """Fetches, merges and caches the combined document."""

    def __init__(self, settings: GatewaySettings, services: tuple[str, ...] = PROXIED) -> None:
        self.settings = settings
        self.services = services
        self._lock = asyncio.Lock()
        self._body: bytes | None = None
        self._expires = 0.0
        self.clock: Callable[[], float] = time.monotonic

    async def body(self, app: FastAPI) -> bytes:
        if self._body is not None and self.clock() < self._expires:
            return self._body
        async with self._lock:
            # Whoever held the lock may have just built it.
            if self._body is not None and self.clock() < self._expires:
                return self._body
            docs, notes = await self._fetch_all(app.state.http)
            proxy_problems = PROXY_PROBLEMS if self.settings.rate_limit_enabled else PROXY_PROBLEMS[1:]
            doc = merge(app.openapi(), docs, notes=notes, proxy_problems=proxy_problems)
            self._body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
            complete = all(d is not None for d in docs.values())
            ttl = self.settings.openapi_cache_seconds
            self._expires = self.clock() + (ttl if complete else min(ttl, _INCOMPLETE_CACHE_SECONDS))
            return self._body

    async def _fetch_all(self, session: aiohttp.ClientSession) -> tuple[dict[str, dict | None], dict[str, str]]:
        results = await asyncio.gather(*(self._fetch(session, n) for n in self.services))
        docs = {n: doc for n, (doc, _) in zip(self.services, results)}
        notes = {n: why for n, (_, why) in zip(self.services, results) if why}
        return docs, notes

    async def _fetch(self, session: aiohttp.ClientSession, name: str) -> tuple[dict | None, str | None]:
        url = self.settings.service_url(name).rstrip("/") + "/openapi.json"
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=self.settings.openapi_fetch_timeout)) as r:
                if r.status != 200:
                    return None, f"answered {r.status}"
                doc = json.loads(await r.read())
        except TimeoutError:
            return None, f"no answer within {self.settings.openapi_fetch_timeout} s"
        except aiohttp.ClientError as exc:
            log.warning("could not fetch a service's OpenAPI document", extra={"upstream": name, "error": str(exc)})
            return None, "unreachable"
        except ValueError:
            return None, "not an OpenAPI document"
        if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
            return None, "not an OpenAPI document"
        return doc, None


def openapi_router(combined: CombinedOpenAPI) -> APIRouter:
    router = APIRouter()

    @router.get("/openapi.json", include_in_schema=False, dependencies=[Public])
    async def openapi(request: Request) -> Response:
        """The combined OpenAPI document of the whole Sprout API."""
        return Response(await combined.body(request.app), media_type="application/json")

    return router
