"""Fixtures of the directory tests: the real gateway app on the test's rolled-back session (as the identity tests)."""

from tests.identity.conftest import gw  # noqa: F401  (the fixture)
