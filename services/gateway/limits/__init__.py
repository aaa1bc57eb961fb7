"""Limits at the front door: rate limits per caller, login throttling per account, and CORS."""
