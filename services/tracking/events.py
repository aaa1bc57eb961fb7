"""Events the tracking service publishes and the consumers of those it takes in."""

consumers: list = []
