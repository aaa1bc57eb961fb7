"""Settings of the gateway service (environment variables prefixed SPROUT_)."""

from typing import ClassVar

from shared.settings import BaseServiceSettings


class GatewaySettings(BaseServiceSettings):
    service_name: ClassVar[str] = "gateway"
    default_port: ClassVar[int] = 8000
