"""deploy/sql/roles.sql on a real PostgreSQL: each service's role touches only its schema and `events`."""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from services.cli import SERVICES, migration_trees
from shared.db import asyncpg_dsn
from shared.directory.store import apply, lock_exclusive
from shared.events.contracts.identity import PersonRecord
from shared.migrations import migrate
from tests.conftest import running_app

ROOT = Path(__file__).resolve().parents[2]
ROLES_SQL = (ROOT / "deploy" / "sql" / "roles.sql").read_text()
SCHEMAS = ["events", *SERVICES]
MIGRATOR = "sprout_migrator"
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


def role_of(service: str) -> str:
    return f"sprout_{service}"


async def connect(url: str) -> asyncpg.Connection:
    _, kwargs = asyncpg_dsn(url)
    return await asyncpg.connect(**kwargs)


@pytest.fixture(scope="module")
async def roles_db(server_url: str) -> AsyncIterator[dict[str, str]]:
    """A fresh database prepared as ops would: roles.sql as admin, then `sprout migrate` as the migrator.

    Yields the URL of every role (and of the admin, under "admin").
    """
    name = f"sprout_roles_{secrets.token_hex(4)}"
    server = await connect(server_url)
    await server.execute(f'CREATE DATABASE "{name}"')
    admin_url = make_url(server_url).set(database=name)
    urls = {"admin": admin_url.render_as_string(hide_password=False)}
    try:
        admin = await connect(urls["admin"])
        try:
            await admin.execute(ROLES_SQL)
            # Passwords, so the test holds on a server that does not trust local connections. One
            # fixed test password: the roles are server-wide, and parallel workers set them alike.
            password = "sprout-roles-test"
            for role in (MIGRATOR, *map(role_of, SERVICES)):
                await admin.execute(f"ALTER ROLE {role} PASSWORD '{password}'")
                key = "migrator" if role == MIGRATOR else role.removeprefix("sprout_")
                urls[key] = admin_url.set(username=role, password=password).render_as_string(hide_password=False)
            await migrate(urls["migrator"], migration_trees())
            # Run again after the migrations, as ops does after every release.
            await admin.execute(ROLES_SQL)
        finally:
            await admin.close()
        yield urls
    finally:
        await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        # The roles are server-wide; drop them unless another database still grants them something.
        for role in (*map(role_of, SERVICES), MIGRATOR):
            try:
                await server.execute(f"DROP ROLE IF EXISTS {role}")
            except asyncpg.PostgresError:
                pass
        await server.close()


async def test_each_role_may_use_its_own_schema_and_events_and_nothing_else(roles_db):
    admin = await connect(roles_db["admin"])
    try:
        tables = await admin.fetch(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[])", SCHEMAS
        )
        # Every schema has at least its alembic version table, so no row of the matrix is empty.
        assert {t["schemaname"] for t in tables} == set(SCHEMAS)
        for service in SERVICES:
            role = role_of(service)
            allowed = {service, "events"}
            for schema in SCHEMAS:
                usage = await admin.fetchval("SELECT has_schema_privilege($1, $2, 'USAGE')", role, schema)
                create = await admin.fetchval("SELECT has_schema_privilege($1, $2, 'CREATE')", role, schema)
                assert usage is (schema in allowed), f"{role} USAGE on schema {schema}"
                assert create is False, f"{role} may create objects in schema {schema}"
            for t in tables:
                qualified = f'"{t["schemaname"]}"."{t["tablename"]}"'
                for privilege in TABLE_PRIVILEGES:
                    has = await admin.fetchval("SELECT has_table_privilege($1, $2, $3)", role, qualified, privilege)
                    expected = t["schemaname"] in allowed
                    if qualified == '"events"."revocation"' and service != "gateway":
                        expected = privilege == "SELECT"  # only the gateway ends sign-ins
                    assert has is expected, f"{role} {privilege} on {qualified}"
                for privilege in ("TRUNCATE", "REFERENCES", "TRIGGER"):
                    assert not await admin.fetchval(
                        "SELECT has_table_privilege($1, $2, $3)", role, qualified, privilege
                    ), f"{role} {privilege} on {qualified}"
            assert not await admin.fetchval(
                "SELECT has_database_privilege($1, current_database(), 'CREATE')", role
            ), f"{role} may create schemas"
        owners = await admin.fetch(
            "SELECT nspname, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = ANY($1::text[])",
            SCHEMAS,
        )
        assert {o["nspname"]: o["owner"] for o in owners} == dict.fromkeys(SCHEMAS, MIGRATOR)
    finally:
        await admin.close()


async def test_a_service_role_is_refused_another_schema_and_any_ddl(roles_db):
    conn = await connect(roles_db["courses"])
    try:
        assert await conn.fetchval("SELECT count(*) FROM courses.alembic_version") == 1
        assert await conn.fetchval("SELECT count(*) FROM events.alembic_version") == 1
        for statement in (
            "SELECT count(*) FROM selection.alembic_version",
            "SELECT count(*) FROM gateway.alembic_version",
            "CREATE TABLE courses.intruder (id int)",
            "CREATE TABLE public.intruder (id int)",
            "CREATE SCHEMA intruder",
            "DROP TABLE courses.alembic_version",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "gateway"])
async def test_only_the_gateway_can_end_a_sign_in(roles_db, service):
    conn = await connect(roles_db[service])
    try:
        await conn.fetch("SELECT kind, subject, revoked_at FROM events.revocation")
        for statement in (
            "INSERT INTO events.revocation (kind, subject, revoked_at, reason) VALUES ('user', 'x', now(), 'account_disabled')",
            "DELETE FROM events.revocation",
            "UPDATE events.revocation SET revoked_at = now() - interval '1 year'",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()
    gateway = await connect(roles_db["gateway"])
    try:
        tx = gateway.transaction()
        await tx.start()
        await gateway.execute(
            "INSERT INTO events.revocation (kind, subject, revoked_at, reason) VALUES ('user', $1, now(), 'account_disabled')",
            f"roles-test-{service}",
        )
        await tx.rollback()
    finally:
        await gateway.close()


async def test_a_service_role_can_publish_and_deliver_through_the_event_table(roles_db):
    # The sequences, the delivery_status type and the NOTIFY trigger all run under the service's role.
    conn = await connect(roles_db["selection"])
    try:
        tx = conn.transaction()
        await tx.start()
        try:
            event_id = await conn.fetchval(
                """
                INSERT INTO events.event (event_id, type, version, source, subject, payload, occurred_at)
                VALUES (gen_random_uuid(), 'selection.test.happened', 1, 'selection', 's-1', '{}', now())
                RETURNING id
                """
            )
            await conn.execute(
                "INSERT INTO events.delivery (consumer, event_id, subject, available_at) VALUES ('courses', $1, 's-1', now())",
                event_id,
            )
            claimed = await conn.fetchval(
                """
                UPDATE events.delivery SET status = 'done', done_at = now()
                WHERE id = (SELECT id FROM events.delivery WHERE event_id = $1 FOR UPDATE SKIP LOCKED)
                RETURNING status
                """,
                event_id,
            )
            assert claimed == "done"
        finally:
            await tx.rollback()
    finally:
        await conn.close()


@pytest.mark.parametrize("service", list(SERVICES))
async def test_each_service_is_ready_under_its_own_role(roles_db, service, monkeypatch):
    # The real app with its real lifespan (engine, migration check, consumers) connected as its role.
    monkeypatch.setenv("SPROUT_DATABASE_URL", roles_db[service])
    monkeypatch.setenv("SPROUT_ENV", "test")
    # No gateway here to load a directory from (tests/directory/ test that load); what the
    # read model needs of the role, its consumer's and its resync's writes, is tried below.
    monkeypatch.setenv("SPROUT_DIRECTORY_BOOTSTRAP", "false")
    module, factory = SERVICES[service].app.split(":")
    app = getattr(importlib.import_module(module), factory)()
    async with running_app(app) as client:
        r = await client.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["checks"]["migrations"] == "ok"
        directory = getattr(app.state, "directory", None)
        if directory is not None:
            person = PersonRecord(version=1, person_id=uuid.uuid4(), display_name="role check", roles=["student"])
            async with app.state.engine.begin() as conn:
                await lock_exclusive(conn, directory.schema)
                await apply(conn, directory.tables, [person])
            async with app.state.sessionmaker() as session:
                assert await directory.display_name(session, person.person_id) == "role check"


# The gateway's personal-data keys in this module's database: the signing key is sealed under them.
PII_KEYS = {
    "SPROUT_PII_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
    "SPROUT_PII_INDEX_KEY": base64.b64encode(os.urandom(32)).decode(),
}


def gateway_environment(roles_db: dict[str, str]) -> dict[str, str]:
    """What a `sprout` command run in the gateway's pod has: production, the gateway's role, its keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPROUT_")}
    env.update(SPROUT_ENV="production", SPROUT_DATABASE_URL=roles_db["gateway"], **PII_KEYS)
    return env


def test_the_release_step_makes_the_signing_key_with_the_gateways_role(roles_db):
    # What the release Job and compose's one-shot run: `sprout keys ensure`, in production,
    # connected as the gateway's role, the private key sealed under the personal-data keys.
    env = gateway_environment(roles_db)
    command = [sys.executable, "-m", "services.cli", "keys", "ensure"]
    first = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stdout + first.stderr
    # "made signing key <kid> (operator)", or "found ..." when one is there already.
    verb, _, _, kid, origin = first.stdout.split()[:5]
    assert verb in ("made", "found") and origin == "(operator)", first.stdout
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.split()[:4] == ["found", "signing", "key", kid], again.stdout


async def test_the_first_deployments_clients_are_made_with_the_gateways_role_and_sign_in(roles_db, monkeypatch):
    """deploy/README.md's loop as it runs in the gateway's pod: `sprout client create` unchanged,
    connected as the gateway's role; what it prints, through the loop's own step, becomes the
    Secret; each domain service, given what its Deployment gives it, gets a token from the gateway
    with it. Run again, the loop makes nothing and loses nothing."""
    from services.gateway.app import create_app
    from shared.service_client import ServiceTokenProvider
    from tests.deploy.files import DOMAIN_SERVICES, client_loops, settings_class, settings_under
    from tests.deploy.test_kubernetes import CLIENT_KEYS, DEPLOYMENTS, container, pod_env
    from tests.servers import serve
    from tests.tokens.support import gateway_settings

    (loop,) = [loop for loop in client_loops() if loop.runner[0] == "kubectl"]
    env = gateway_environment(roles_db)

    def client_create(service: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "services.cli", *loop.argv(service)]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    async def signs_in(service: str, secret: dict[str, str], gateway_url: str) -> bool:
        given = pod_env(container(DEPLOYMENTS[service]))
        given.update({var: secret[key] for var, key in CLIENT_KEYS.items()}, SPROUT_GATEWAY_URL=gateway_url)
        tokens = ServiceTokenProvider.from_settings(settings_under(monkeypatch, settings_class(service), given))
        try:
            return bool(await tokens.token())
        finally:
            await tokens.aclose()

    secrets_made: dict[str, dict[str, str]] = {}
    gateway = create_app(gateway_settings(
        roles_db["gateway"], pii_keys=PII_KEYS["SPROUT_PII_KEYS"], pii_index_key=PII_KEYS["SPROUT_PII_INDEX_KEY"]
    ))
    async with serve(gateway) as url:
        for service in DOMAIN_SERVICES:
            made = await asyncio.to_thread(client_create, service)
            assert made.returncode == 0, made.stderr
            # The offline tests' stand-in for this output has its shape.
            assert set(json.loads(made.stdout)) == set(json.loads(loop.printed(service)))
            secrets_made[service] = dict(line.split("=", 1) for line in loop.python(service, made.stdout).splitlines())
            assert await signs_in(service, secrets_made[service], url), service
        again = await asyncio.to_thread(client_create, "courses")
        # Exit 1 (the loop's `|| continue`), nothing printed for the Secret, the client kept.
        assert (again.returncode, again.stdout) == (1, ""), again.stderr
        assert "already exists" in again.stderr
        assert await signs_in("courses", secrets_made["courses"], url)
