"""The selection tests' world: the matrix's (tests/matrix/world.py), every app real, real tokens,
the campaigns `campaign_open` (nominations) and `campaign_tests` (IQ test) with their candidates.
Each test runs in a savepoint of the world's transaction, rolled back afterwards."""

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
