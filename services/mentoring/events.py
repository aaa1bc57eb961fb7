"""Events the mentoring service publishes and the consumers of those it takes in."""

from services.mentoring.db import directory

consumers: list = [directory.consumer]
