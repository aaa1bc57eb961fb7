"""Identity: schools, users and their roles, guardian links, student profiles and their personal data."""
