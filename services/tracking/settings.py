"""Settings of the tracking service (environment variables prefixed SPROUT_)."""

from typing import ClassVar

from shared.settings import BaseServiceSettings


class TrackingSettings(BaseServiceSettings):
    service_name: ClassVar[str] = "tracking"
    default_port: ClassVar[int] = 8004
