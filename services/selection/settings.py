"""Settings of the selection service (environment variables prefixed SPROUT_)."""

from typing import ClassVar

from pydantic import Field

from shared.settings import BaseServiceSettings


class SelectionSettings(BaseServiceSettings):
    service_name: ClassVar[str] = "selection"
    default_port: ClassVar[int] = 8001

    # An uploaded scores sheet (CSV or XLSX): its size and its rows.
    scores_max_bytes: int = Field(default=2_097_152, ge=1024)
    scores_max_rows: int = Field(default=20_000, ge=1)
