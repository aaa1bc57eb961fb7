"""Every operation has a stable operationId `<service>_<name>`, unique across the combined API,
so generated frontend clients keep their method names from release to release."""

import re
from collections import Counter

from fastapi.routing import APIRoute, iter_route_contexts

from tests.platform.conftest import SERVICE_NAMES, service_app

UNUSED_DATABASE = "postgresql://unused@127.0.0.1:1/unused"


def operations(app) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> operationId, from the app's published OpenAPI document."""
    return {
        (method.upper(), path): op["operationId"]
        for path, item in app.openapi()["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    }


def route_names(app) -> dict[tuple[str, str], str]:
    """(METHOD, path) -> the endpoint's name, from the routes themselves."""
    out = {}
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in route.methods:
                out[(method, ctx.path)] = ctx.name
    return out


def test_every_operation_id_is_service_underscore_name_and_unique_across_services():
    everywhere: Counter[str] = Counter()
    for name in SERVICE_NAMES:
        app = service_app(name, UNUSED_DATABASE)
        ops = operations(app)
        names = route_names(app)
        assert ops, f"{name} publishes no operations"
        assert set(ops) == set(names), name
        for where, op_id in ops.items():
            assert op_id == f"{name}_{names[where]}", (name, where)
            assert re.fullmatch(rf"{name}_[a-z][a-z0-9_]*", op_id), op_id
        everywhere.update(ops.values())
    duplicated = [op_id for op_id, n in everywhere.items() if n > 1]
    assert not duplicated


def test_operation_ids_do_not_change_between_builds():
    for name in SERVICE_NAMES:
        assert operations(service_app(name, UNUSED_DATABASE)) == operations(service_app(name, UNUSED_DATABASE))


def test_every_operation_documents_the_500_problem():
    for name in SERVICE_NAMES:
        for path, item in service_app(name, UNUSED_DATABASE).openapi()["paths"].items():
            for method, op in item.items():
                assert "500" in op["responses"], (name, method, path)
