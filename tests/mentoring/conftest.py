"""The mentoring tests' world: the matrix's (tests/matrix/world.py), every app real, real tokens,
the mentor registered and the student, the child and the other student admitted. Each test runs
in a savepoint of the world's transaction, rolled back afterwards."""

from tests.matrix.fixtures import w, world  # noqa: F401
