"""Events the tracking service publishes and the consumers of those it takes in."""

from services.tracking.db import directory

consumers: list = [directory.consumer]
