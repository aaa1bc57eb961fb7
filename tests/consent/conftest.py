"""Fixtures of the consent tests: the same real gateway app as the identity tests."""

from tests.identity.conftest import gw  # noqa: F401  (the fixture)
