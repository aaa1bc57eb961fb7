"""The selection tests' world: the matrix's (tests/matrix/world.py), every app real, real tokens,
the campaigns `campaign_open` (nominations) and `campaign_tests` (IQ test) with their candidates.
Each test runs in a savepoint of the world's transaction, rolled back afterwards."""

from tests.matrix.fixtures import w, world  # noqa: F401
