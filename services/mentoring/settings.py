"""Settings of the mentoring service (environment variables prefixed SPROUT_)."""

from typing import ClassVar

from shared.settings import BaseServiceSettings


class MentoringSettings(BaseServiceSettings):
    service_name: ClassVar[str] = "mentoring"
    default_port: ClassVar[int] = 8002
