"""Machine clients: partner universities and our own services get tokens with the client-credentials grant."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid

from sqlalchemy import delete, select

from services.gateway.tokens.models import Client
from tests.tokens.support import bearer, make_client, make_partner, make_user, unique, unverified_parts


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def _admin_token(gateway, session) -> str:
    from tests.tokens.support import signed_in

    admin = await make_user(session, "admin")
    return (await signed_in(gateway.app, session, admin))["access_token"]


async def test_a_partner_client_gets_a_token_with_http_basic(gateway, session):
    partner = await make_partner(session)
    client, secret = await make_client(session, role="partner", scopes=("offers:write", "students:read"), partner=partner)

    r = await gateway.client.post("/auth/token", data={"grant_type": "client_credentials"}, headers=_basic(client.client_id, secret))

    assert r.status_code == 200, r.text
    body = r.json()
    assert r.headers["cache-control"] == "no-store"
    assert "refresh_token" not in body
    assert body["scope"] == "offers:write students:read"
    _, claims, _ = unverified_parts(body["access_token"])
    assert claims["sub"] == client.client_id and claims["kind"] == "client"
    assert claims["roles"] == ["partner"] and claims["partner_id"] == str(partner.id)
    assert claims["scope"] == "offers:write students:read"


async def test_a_client_may_send_its_credentials_in_the_form_and_narrow_its_scopes(gateway, session):
    client, secret = await make_client(session, role="service", scopes=("mentees:read", "students:read"))
    r = await gateway.client.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "client_id": client.client_id, "client_secret": secret, "scope": "students:read"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "students:read"
    assert unverified_parts(r.json()["access_token"])[1]["roles"] == ["service"]


async def test_asking_for_a_scope_the_client_may_not_have_is_invalid_scope(gateway, session):
    client, secret = await make_client(session, role="partner", scopes=("offers:write",))
    r = await gateway.client.post(
        "/auth/token", data={"grant_type": "client_credentials", "scope": "offers:write students:read"},
        headers=_basic(client.client_id, secret),
    )
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_scope" and r.json()["error"] == "invalid_scope"
    assert "students:read" in r.json()["detail"]


async def test_a_wrong_secret_an_unknown_client_and_a_disabled_one_are_invalid_client(gateway, session):
    client, secret = await make_client(session)
    disabled, disabled_secret = await make_client(session, disabled=True)
    for client_id, attempt in ((client.client_id, "wrong"), ("no-such-client", secret), (disabled.client_id, disabled_secret)):
        r = await gateway.client.post("/auth/token", data={"grant_type": "client_credentials"}, headers=_basic(client_id, attempt))
        assert r.status_code == 401
        assert r.json()["code"] == "invalid_client" and r.json()["error"] == "invalid_client"
        assert r.headers["www-authenticate"].startswith("Basic")
    r = await gateway.client.post("/auth/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


async def test_malformed_token_requests_are_400_invalid_request(gateway):
    cases = [
        ({"content": b'{"grant_type": "password"}', "headers": {"Content-Type": "application/json"}}, "invalid_request"),
        ({"content": b"grant_type=password&grant_type=refresh_token", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, "invalid_request"),
        ({"data": {"username": "x"}}, "invalid_request"),
        ({"data": {"grant_type": "password", "username": "x"}}, "invalid_request"),
        ({"data": {"grant_type": "authorization_code", "code": "x"}}, "unsupported_grant_type"),
        ({"content": b"grant_type=password&username=a%00b&password=x", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, "invalid_request"),
        ({"content": b"grant_type=pass\xffword", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, "invalid_request"),
    ]
    for kwargs, error in cases:
        r = await gateway.client.post("/auth/token", **kwargs)
        assert r.status_code == 400, (kwargs, r.text)
        assert r.json()["error"] == error, kwargs
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_admins_create_list_disable_and_rekey_clients(gateway, session):
    token = await _admin_token(gateway, session)
    partner = await make_partner(session)
    client_id = unique("xmu-admissions")

    created = await gateway.client.post(
        "/auth/clients", headers=bearer(token),
        json={"client_id": client_id, "name": "Xiamen University admissions", "role": "partner",
              "scopes": ["offers:write"], "partner_id": str(partner.id)},
    )
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    secret = created.json()["client_secret"]
    stored = await session.scalar(select(Client.secret_hash).where(Client.client_id == client_id))
    assert secret not in stored

    listed = await gateway.client.get("/auth/clients", headers=bearer(token), params={"limit": 200})
    assert listed.status_code == 200
    mine = next(c for c in listed.json()["items"] if c["client_id"] == client_id)
    assert "client_secret" not in mine and mine["role"] == "partner" and mine["disabled"] is False

    grant = lambda s: gateway.client.post("/auth/token", data={"grant_type": "client_credentials"}, headers=_basic(client_id, s))  # noqa: E731
    assert (await grant(secret)).status_code == 200

    rekeyed = await gateway.client.post(f"/auth/clients/{client_id}/secret", headers=bearer(token))
    assert rekeyed.status_code == 200
    assert (await grant(secret)).status_code == 401
    new_secret = rekeyed.json()["client_secret"]
    assert (await grant(new_secret)).status_code == 200

    disabled = await gateway.client.patch(f"/auth/clients/{client_id}", headers=bearer(token), json={"disabled": True})
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert (await grant(new_secret)).json()["code"] == "invalid_client"

    again = await gateway.client.post(
        "/auth/clients", headers=bearer(token),
        json={"client_id": client_id, "name": "again", "role": "service"},
    )
    assert again.status_code == 409 and again.json()["code"] == "client_id_taken"


async def test_a_partner_client_must_name_its_partner_and_a_service_client_must_not(gateway, session):
    token = await _admin_token(gateway, session)
    partner = await make_partner(session)
    for body, code in (
        ({"role": "partner"}, "client_partner_required"),
        ({"role": "service", "partner_id": str(partner.id)}, "client_partner_required"),
        ({"role": "partner", "partner_id": str(uuid.uuid4())}, "client_partner_unknown"),
    ):
        r = await gateway.client.post("/auth/clients", headers=bearer(token), json={"client_id": unique("c"), "name": "n", **body})
        assert r.status_code == 422 and r.json()["code"] == code, r.text


async def test_a_client_name_is_stripped_and_the_schema_says_a_blank_one_is_refused(gateway, session):
    token = await _admin_token(gateway, session)
    schema = gateway.app.openapi()["components"]["schemas"]["ClientIn"]["properties"]["name"]
    for name in (" ", "\t\n", ""):
        assert not re.search(schema["pattern"], name), name
        r = await gateway.client.post("/auth/clients", headers=bearer(token), json={"client_id": unique("c"), "name": name, "role": "service"})
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", r.text
    assert re.search(schema["pattern"], " 厦门大学 ") and not re.search(schema["pattern"], "a\x00b")
    created = await gateway.client.post("/auth/clients", headers=bearer(token), json={"client_id": unique("c"), "name": " 厦门大学 ", "role": "service"})
    assert created.status_code == 201 and created.json()["name"] == "厦门大学", created.text
    renamed = await gateway.client.patch(f"/auth/clients/{created.json()['client_id']}", headers=bearer(token), json={"name": "  "})
    assert renamed.status_code == 422 and renamed.json()["code"] == "validation_failed", renamed.text


async def test_only_admins_manage_clients(gateway, session):
    from tests.tokens.support import signed_in

    for role in ("staff", "coordinator", "partner"):
        user = await make_user(session, role)
        token = (await signed_in(gateway.app, session, user))["access_token"]
        assert (await gateway.client.get("/auth/clients", headers=bearer(token))).status_code == 403
    assert (await gateway.client.get("/auth/clients")).status_code == 401
    assert (await gateway.client.get("/auth/clients/whoever", headers=bearer(await _admin_token(gateway, session)))).status_code == 404


async def test_sprout_client_create_prints_the_secret_once(database_url, engine, monkeypatch, capsys):
    from services.cli import main
    from services.gateway.identity.models import Partner
    from shared.db import sessionmaker

    monkeypatch.setenv("SPROUT_DATABASE_URL", database_url)
    monkeypatch.setenv("SPROUT_ENV", "test")
    # `sprout` runs its own event loop, so here it runs in a thread of its own.
    sprout = lambda *args: asyncio.to_thread(main, ["client", "create", *args])  # noqa: E731
    partner_name = unique("Fuzhou University")
    client_id = unique("fzu")
    async with sessionmaker(engine)() as s, s.begin():
        s.add(Partner(id=uuid.uuid4(), name=partner_name))
    try:
        code = await sprout("--client-id", client_id, "--name", "FZU", "--role", "partner", "--scope", "offers:write", "--partner", partner_name, "--json")
        assert code == 0, capsys.readouterr().err
        created = json.loads(capsys.readouterr().out)
        assert created["client_id"] == client_id and created["scopes"] == ["offers:write"] and len(created["client_secret"]) >= 40
        async with sessionmaker(engine)() as s:
            stored = await s.scalar(select(Client).where(Client.client_id == client_id))
        assert stored.roles == ["partner"] and created["client_secret"] not in stored.secret_hash

        assert await sprout("--client-id", unique("x"), "--name", "X", "--role", "partner", "--partner", "Nowhere U") == 1
        assert "Nowhere U" in capsys.readouterr().err
        assert await sprout("--client-id", "bad id!", "--name", "X", "--role", "service") == 2
        assert "client_id" in capsys.readouterr().err
    finally:
        async with sessionmaker(engine)() as s, s.begin():
            await s.execute(delete(Client).where(Client.client_id == client_id))
            await s.execute(delete(Partner).where(Partner.name == partner_name))
