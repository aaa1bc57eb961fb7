"""Campaigns: a year's disciplines, quotas and weights, and its stages, which move only forward, one at a time."""
