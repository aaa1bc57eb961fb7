"""`sprout user create`: how the first admin of a fresh deployment comes to be."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from sqlalchemy import text

from tests.conftest import ROOT


def _sprout(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPROUT_")}
    env.update(SPROUT_DATABASE_URL=database_url, SPROUT_ENV="test")
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


async def test_the_first_admin_is_created_from_the_command_line(database_url, engine):
    username = f"root-{uuid.uuid4().hex[:6]}"
    try:
        done = _sprout(
            database_url, "user", "create", "--username", username, "--role", "admin", "--display-name", "系统管理员",
            "--password-stdin", stdin="correct horse battery staple\n",
        )
        assert done.returncode == 0, done.stderr
        assert username in done.stdout
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT roles, display_name, password_hash FROM gateway.user_account WHERE username = :u"), {"u": username}
                )
            ).one()
        assert row.roles == ["admin"] and row.display_name == "系统管理员"
        assert row.password_hash.startswith("$argon2id$")

        from services.gateway.identity.passwords import verify_password

        assert verify_password("correct horse battery staple", row.password_hash)[0]
        again = _sprout(database_url, "user", "create", "--username", username.upper(), "--role", "admin", "--no-password")
        assert again.returncode == 3 and "already taken" in again.stderr
        weak = _sprout(database_url, "user", "create", "--username", username + "x", "--role", "admin", "--password-stdin", stdin="short\n")
        assert weak.returncode == 1 and "10 characters" in weak.stderr
        bad_role = _sprout(database_url, "user", "create", "--username", username + "y", "--role", "wizard", "--no-password")
        assert bad_role.returncode == 1 and "roles" in bad_role.stderr
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM gateway.user_account WHERE lower(username) LIKE :u"), {"u": username.lower() + "%"})


async def test_a_partner_universitys_person_is_created_with_their_university(database_url, engine):
    username = f"prof-{uuid.uuid4().hex[:6]}"
    university = f"厦门大学-{uuid.uuid4().hex[:4]}"
    async with engine.begin() as conn:
        partner_id = (
            await conn.execute(
                text("INSERT INTO gateway.partner (id, name) VALUES (gen_random_uuid(), :n) RETURNING id"), {"n": university}
            )
        ).scalar_one()
    try:
        done = _sprout(
            database_url, "user", "create", "--username", username, "--role", "partner", "--partner", university, "--no-password"
        )
        assert done.returncode == 0, done.stderr
        async with engine.connect() as conn:
            row = (
                await conn.execute(text("SELECT partner_id FROM gateway.user_account WHERE username = :u"), {"u": username})
            ).one()
        assert row.partner_id == partner_id
        unknown = _sprout(
            database_url, "user", "create", "--username", username + "x", "--role", "partner", "--partner", "没有这所大学", "--no-password"
        )
        assert unknown.returncode == 1, unknown.stdout
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM gateway.user_account WHERE username LIKE :u"), {"u": username + "%"})
            await conn.execute(text("DELETE FROM gateway.partner WHERE id = :p"), {"p": partner_id})
