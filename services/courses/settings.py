"""Settings of the courses service (environment variables prefixed SPROUT_)."""

from typing import ClassVar

from shared.settings import BaseServiceSettings


class CoursesSettings(BaseServiceSettings):
    service_name: ClassVar[str] = "courses"
    default_port: ClassVar[int] = 8003
