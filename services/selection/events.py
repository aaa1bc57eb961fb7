"""Events the selection service publishes and the consumers of those it takes in."""

consumers: list = []
