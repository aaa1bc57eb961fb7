"""The matrix world as pytest fixtures, for the test packages that build on it: a conftest imports them.

`world` is one per module (every app real, real tokens, tests/matrix/world.py); `w` runs a test in
a savepoint of the world's transaction, rolled back afterwards."""

from __future__ import annotations

import pytest

from tests.matrix.world import World, matrix_world


@pytest.fixture(scope="module")
async def world(database_url, engine):
    async with matrix_world(database_url, engine) as w:
        yield w


@pytest.fixture
async def w(world: World):
    async with world.tx.case():
        yield world
