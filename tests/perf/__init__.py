"""Benchmarks: they start the real processes, drive load and print figures; they assert nothing."""
