"""Events the courses service publishes and the consumers of those it takes in."""

from services.courses.db import directory

consumers: list = [directory.consumer]
