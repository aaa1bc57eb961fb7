"""The combined OpenAPI document: every service under /api/<service>, refs that resolve, services left out honestly."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from services.gateway.openapi import merge
from services.gateway.proxy import PROXIED

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            elif k == "mapping" and isinstance(v, dict):
                yield from (m for m in v.values() if isinstance(m, str))
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for x in node:
            yield from refs(x)


def resolve(doc: dict, ref: str) -> Any:
    assert ref.startswith("#/"), f"not a local ref: {ref}"
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def operations(doc: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def assert_refs_resolve(doc: dict) -> None:
    unresolved = [r for r in refs(doc) if _unresolvable(doc, r)]
    assert unresolved == []


def assert_unique_operation_ids(doc: dict) -> None:
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids)), "operationIds are not unique"


def _unresolvable(doc: dict, ref: str) -> bool:
    try:
        resolve(doc, ref)
    except AssertionError:
        return True
    return False


# ---------------------------------------------------------------- against the real services


async def test_every_services_paths_are_under_its_prefix(gateway, services, client):
    combined = (await client.get(f"{gateway}/openapi.json")).json()
    for name, url in services.items():
        own = (await client.get(f"{url}/openapi.json")).json()
        assert own["paths"], name
        for path, item in own["paths"].items():
            merged = combined["paths"][f"/api/{name}{path}"]
            for method, op in item.items():
                if method not in METHODS:
                    continue
                assert merged[method]["operationId"] == op["operationId"]
                assert all(t == name or t.startswith(f"{name}/") for t in merged[method]["tags"])
    assert combined["info"]["x-services"] == {"present": list(PROXIED), "missing": []}
    assert "Left out" not in combined["info"]["description"]


async def test_the_gateways_own_routes_are_in_it_and_its_plumbing_is_not(gateway, client):
    doc = (await client.get(f"{gateway}/openapi.json")).json()
    assert doc["paths"]["/healthz"]["get"]["operationId"] == "gateway_healthz"
    assert doc["paths"]["/healthz"]["get"]["tags"] == ["gateway/ops"]
    for plumbing in ("/openapi.json", "/docs", "/redoc", "/docs/static/{name}", "/api/{rest}"):
        assert plumbing not in doc["paths"]


async def test_every_ref_resolves_and_every_operation_id_is_unique(gateway, client):
    doc = (await client.get(f"{gateway}/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    assert list(refs(doc)), "expected some $refs to check"
    assert_refs_resolve(doc)
    assert_unique_operation_ids(doc)
    tag_names = {t["name"] for t in doc["tags"]}
    assert {t for _, _, op in operations(doc) for t in op["tags"]} <= tag_names


async def test_a_service_that_is_down_is_left_out_and_named(edge_gateway, client):
    r = await client.get(f"{edge_gateway}/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    # mentoring does not listen; tracking (a raw server) answers, but not with an OpenAPI document.
    assert doc["info"]["x-services"]["missing"] == ["mentoring", "tracking"]
    description = doc["info"]["description"]
    assert "Left out" in description and "`mentoring` (unreachable)" in description and "`tracking` (not an OpenAPI document)" in description
    assert not any(p.startswith(("/api/mentoring/", "/api/tracking/")) for p in doc["paths"])
    # The others are there: the real courses service, and the stand-in as selection.
    assert "/api/courses/healthz" in doc["paths"] and "/api/selection/items" in doc["paths"]
    assert_refs_resolve(doc)


async def test_the_document_is_cached_briefly(gateway, edge_gateway, standin, client):
    stand, _ = standin
    # edge_gateway caches for 30 s, but a document with a service missing only for a second.
    await client.get(f"{edge_gateway}/openapi.json")
    before = stand.hits["openapi"]
    first = (await client.get(f"{edge_gateway}/openapi.json")).content
    again = (await client.get(f"{edge_gateway}/openapi.json")).content
    assert first == again
    # Fetched at most once for the stand-in behind selection, not once per request.
    assert stand.hits["openapi"] - before <= 1


# ---------------------------------------------------------------- merging rules, on plain documents


def _doc(paths: dict, schemas: dict, **extra) -> dict:
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths,
            "components": {"schemas": schemas, **extra}}


def _op(op_id: str, ref: str, tags: list[str] | None = None, **extra) -> dict:
    op = {"operationId": op_id, "responses": {"200": {"content": {"application/json": {"schema": {"$ref": ref}}}}}}
    if tags is not None:
        op["tags"] = tags
    op.update(extra)
    return op


PROBLEM = {"type": "object", "properties": {"code": {"type": "string"}}}


def test_an_identical_schema_is_kept_once():
    gateway = _doc({}, {"Widget": PROBLEM})
    a = _doc({"/x": {"get": _op("a_x", "#/components/schemas/Widget")}}, {"Widget": copy.deepcopy(PROBLEM)})
    doc = merge(gateway, {"a": a})
    assert [n for n in doc["components"]["schemas"] if n == "Widget" or n.endswith(".Widget")] == ["Widget"]
    assert doc["paths"]["/api/a/x"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Widget"


def test_different_schemas_with_one_name_are_both_kept_and_refs_follow():
    gateway = _doc({}, {})
    section_a = {"type": "object", "properties": {"room": {"type": "string"}}}
    section_b = {"type": "object", "properties": {"seats": {"type": "integer"}}}
    a = _doc({"/s": {"get": _op("a_s", "#/components/schemas/Section")}}, {"Section": section_a})
    b = _doc({"/s": {"get": _op("b_s", "#/components/schemas/Section")}}, {"Section": section_b})
    doc = merge(gateway, {"a": a, "b": b})
    schemas = doc["components"]["schemas"]
    assert schemas["Section"] == section_a and schemas["b.Section"] == section_b
    ref_b = doc["paths"]["/api/b/s"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref_b == "#/components/schemas/b.Section"
    assert_refs_resolve(doc)


def test_a_schema_pointing_at_a_renamed_one_is_renamed_too():
    # Both services have Page -> Item; the Items differ, so b's Page (same text) differs as well.
    page = {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}}
    a = _doc({"/p": {"get": _op("a_p", "#/components/schemas/Page")}}, {"Page": page, "Item": {"type": "string"}})
    b = _doc({"/p": {"get": _op("b_p", "#/components/schemas/Page")}}, {"Page": copy.deepcopy(page), "Item": {"type": "integer"}})
    doc = merge(_doc({}, {}), {"a": a, "b": b})
    schemas = doc["components"]["schemas"]
    assert schemas["b.Item"] == {"type": "integer"}
    assert schemas["b.Page"]["properties"]["items"]["items"]["$ref"] == "#/components/schemas/b.Item"
    assert schemas["Page"]["properties"]["items"]["items"]["$ref"] == "#/components/schemas/Item"
    assert_refs_resolve(doc)


def test_discriminator_mappings_and_security_schemes_are_renamed_too():
    pet = {"oneOf": [{"$ref": "#/components/schemas/Cat"}], "discriminator": {"propertyName": "kind", "mapping": {"cat": "#/components/schemas/Cat"}}}
    a = _doc({}, {"Cat": {"type": "object"}}, securitySchemes={"Bearer": {"type": "http", "scheme": "bearer"}})
    b = _doc(
        {"/pets": {"get": _op("b_pets", "#/components/schemas/Pet", security=[{"Bearer": ["pets:read"]}])}},
        {"Pet": pet, "Cat": {"type": "object", "properties": {"claws": {"type": "boolean"}}}},
        securitySchemes={"Bearer": {"type": "oauth2", "flows": {}}},
    )
    doc = merge(_doc({}, {}), {"a": a, "b": b})
    merged_pet = doc["components"]["schemas"]["Pet"]
    assert merged_pet["discriminator"]["mapping"] == {"cat": "#/components/schemas/b.Cat"}
    assert merged_pet["oneOf"] == [{"$ref": "#/components/schemas/b.Cat"}]
    assert doc["paths"]["/api/b/pets"]["get"]["security"] == [{"b.Bearer": ["pets:read"]}]
    assert set(doc["components"]["securitySchemes"]) == {"Bearer", "b.Bearer"}
    assert_refs_resolve(doc)


def test_a_services_document_wide_security_moves_onto_its_operations():
    a = _doc({"/x": {"get": _op("a_x", "#/components/schemas/P"), "post": _op("a_y", "#/components/schemas/P", security=[])}},
             {"P": PROBLEM}, securitySchemes={"Bearer": {"type": "http", "scheme": "bearer"}})
    a["security"] = [{"Bearer": []}]
    doc = merge(_doc({}, {}), {"a": a})
    assert "security" not in doc
    assert doc["paths"]["/api/a/x"]["get"]["security"] == [{"Bearer": []}]
    # An operation's own requirement (here: none at all) wins, as it did in the service's document.
    assert doc["paths"]["/api/a/x"]["post"]["security"] == []


def test_operations_are_tagged_by_service():
    a = _doc({"/x": {"get": _op("a_x", "#/components/schemas/P", tags=["sections"]), "post": _op("a_y", "#/components/schemas/P")}},
             {"P": PROBLEM})
    doc = merge(_doc({}, {}), {"a": a})
    assert doc["paths"]["/api/a/x"]["get"]["tags"] == ["a/sections"]
    assert doc["paths"]["/api/a/x"]["post"]["tags"] == ["a"]
    assert [t["name"] for t in doc["tags"]] == ["a", "a/sections"]


def test_a_missing_service_is_named_with_its_reason():
    doc = merge(_doc({}, {}), {"a": None, "b": _doc({"/x": {}}, {})}, notes={"a": "unreachable"})
    assert doc["info"]["x-services"] == {"present": ["b"], "missing": ["a"]}
    assert "`a` (unreachable)" in doc["info"]["description"]


def test_merging_does_not_change_its_inputs():
    gateway = _doc({"/healthz": {"get": _op("gateway_healthz", "#/components/schemas/P")}}, {"P": PROBLEM})
    a = _doc({"/x": {"get": _op("a_x", "#/components/schemas/P", tags=["t"])}}, {"P": {"type": "string"}})
    before = copy.deepcopy((gateway, a))
    merge(gateway, {"a": a})
    assert (gateway, a) == before
