"""The IQ and written tests' results: entered one at a time or uploaded as a sheet, all or nothing."""
