"""The tracking tests' world: the matrix's (tests/matrix/world.py), every app real, real tokens.
Each test runs in a savepoint of the world's transaction, rolled back afterwards."""

from tests.matrix.fixtures import w, world  # noqa: F401
