"""Consent (PIPL): a guardian's, or a student's own, consent per purpose, given, withdrawn, or ended with its guardian."""
