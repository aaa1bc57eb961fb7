"""Code every Sprout service shares: settings, database, errors, HTTP basics, the event table."""
