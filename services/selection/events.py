"""Events the selection service publishes and the consumers of those it takes in."""

from services.selection.db import directory

consumers: list = [directory.consumer]
