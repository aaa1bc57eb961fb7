"""Settings of the selection service (environment variables prefixed SPROUT_)."""

from typing import ClassVar

from shared.settings import BaseServiceSettings


class SelectionSettings(BaseServiceSettings):
    service_name: ClassVar[str] = "selection"
    default_port: ClassVar[int] = 8001
