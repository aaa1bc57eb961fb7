"""The programme's five disciplines (MISSION.md): one list for every service, the API and the events."""

from __future__ import annotations

from enum import StrEnum


class Discipline(StrEnum):
    math = "math"
    physics = "physics"
    chemistry = "chemistry"
    biology = "biology"
    computer_science = "computer_science"
