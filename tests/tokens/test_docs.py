"""The combined API docs declare how to get a token, so /docs can sign in and call every service."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.tokens.support import World, world


@pytest.fixture(scope="module")
async def w(database_url: str) -> AsyncIterator[World]:
    async with world(database_url) as the_world:
        yield the_world


async def test_the_combined_openapi_declares_both_oauth2_flows_and_which_operations_need_a_token(w):
    async with httpx.AsyncClient(timeout=30) as http:
        doc = (await http.get(f"{w.gateway_url}/openapi.json")).json()

    scheme = doc["components"]["securitySchemes"]["OAuth2"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["password"]["tokenUrl"] == "/auth/token"
    assert scheme["flows"]["clientCredentials"]["tokenUrl"] == "/auth/token"
    paths = doc["paths"]
    assert paths["/api/courses/whoami"]["get"]["security"] == [{"OAuth2": []}]
    assert paths["/auth/me"]["get"]["security"] == [{"OAuth2": []}]
    assert paths["/auth/clients"]["post"]["security"] == [{"OAuth2": []}]
    assert "security" not in paths["/auth/token"]["post"]
    form = paths["/auth/token"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    grants = {g["properties"]["grant_type"]["enum"][0]: g for g in form["oneOf"]}
    assert set(grants) == {"password", "client_credentials", "refresh_token"}
    # Each grant says what it needs, so an integrator (and a fuzzer) sends a whole request.
    assert set(grants["password"]["required"]) == {"grant_type", "username", "password"}
    assert set(grants["refresh_token"]["required"]) == {"grant_type", "refresh_token"}
    assert form["discriminator"] == {"propertyName": "grant_type"}
    assert "/.well-known/jwks.json" in paths
