"""`sprout up`'s machine clients: one per service, its secret kept beside the embedded database,
the same on every run, a new one when the kept secret is lost."""

from __future__ import annotations

import secrets
import stat

from services.gateway.tokens import credentials, repository
from services.gateway.tokens.admin import ensure_development_clients
from shared.db import sessionmaker


async def _matches(engine, client_id: str, secret: str) -> bool:
    async with sessionmaker(engine)() as session:
        client = await repository.client_by_client_id(session, client_id)
        return client is not None and client.roles == ["service"] and credentials.secret_matches(secret, client.secret_hash)


async def test_each_service_gets_a_client_whose_secret_is_kept_and_renewed_when_lost(database_url, engine, tmp_path):
    names = [f"svc{secrets.token_hex(3)}", f"svc{secrets.token_hex(3)}"]
    folder = tmp_path / "clients"
    first = await ensure_development_clients(database_url, names, folder)
    assert set(first) == set(names)
    for name, (client_id, secret) in first.items():
        assert client_id == f"sprout-{name}" and await _matches(engine, client_id, secret)
        kept = folder / f"{client_id}.secret"
        assert kept.read_text().strip() == secret
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700

    # The next run finds them as they were.
    assert await ensure_development_clients(database_url, names, folder) == first

    # A lost secret cannot be read back: the client gets a new one, and the old one stops working.
    lost, kept_name = names
    (folder / f"sprout-{lost}.secret").unlink()
    again = await ensure_development_clients(database_url, names, folder)
    assert again[kept_name] == first[kept_name]
    new_secret = again[lost][1]
    assert new_secret != first[lost][1]
    assert await _matches(engine, f"sprout-{lost}", new_secret)
    assert not await _matches(engine, f"sprout-{lost}", first[lost][1])
