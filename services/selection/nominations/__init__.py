"""Nominations and candidates: a school's recommendation or the student's own, merged into one candidate per discipline."""
