"""Settings common to every service, read from the environment with the prefix SPROUT_."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class DevelopmentDefaultInProduction(ValueError):
    """Raised when SPROUT_ENV=production still relies on a development-only default."""


class BaseServiceSettings(BaseSettings):
    """What every service needs; each service subclasses it with its own name and port."""

    model_config = SettingsConfigDict(env_prefix="SPROUT_", env_file=None, extra="ignore")

    service_name: ClassVar[str] = "sprout"
    default_port: ClassVar[int] = 8000
    # A service that stores personal data (shared/crypto.py) says so: production then refuses
    # to start it on the development keys.
    holds_personal_data: ClassVar[bool] = False

    env: Environment = Environment.development
    # No URL means: start (or join) the embedded PostgreSQL in `data_dir`/pgdata.
    database_url: str | None = None
    data_dir: Path = Path(".sprout")
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_max_overflow: int = Field(default=10, ge=0, le=200)

    host: str = "127.0.0.1"
    port: int | None = None
    # Serve Prometheus metrics on this port (and not on the API port). The gateway's API port
    # is public, so it serves metrics only here; 0 picks a free port.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)

    log_level: str = "INFO"
    log_json: bool = True

    otlp_endpoint: str | None = None

    request_max_bytes: int = Field(default=1_048_576, ge=1024)
    # Idempotency keys, and the first answers they replay (names, birth dates), are kept this
    # long and then purged (shared/idempotency.py).
    idempotency_retention_hours: float = Field(default=24.0, gt=0, le=720)

    # The event table.
    events_enabled: bool = True
    events_poll_interval: float = Field(default=5.0, gt=0)
    events_batch_size: int = Field(default=32, ge=1, le=1000)
    events_max_attempts: int = Field(default=8, ge=1)
    events_backoff_base: float = Field(default=1.0, gt=0)
    events_backoff_max: float = Field(default=600.0, gt=0)
    # A claim's deliveries are its claimer's this long before another replica may take them
    # as abandoned (their process died): how soon a crash's deliveries run again.
    events_claim_lease: float = Field(default=10.0, ge=0)
    events_retention_days: int = Field(default=14, ge=1)

    # Tokens: every service verifies the gateway's access tokens against its JWKS.
    jwt_issuer: str = "sprout-gateway"
    jwt_audience: str = "sprout"
    jwks_url: str | None = None  # default: <gateway_url>/.well-known/jwks.json
    jwks_cache_seconds: float = Field(default=300.0, gt=0)
    # A token naming a key this service has not seen fetches the JWKS again, at most once per
    # this many seconds: a flood of made-up key ids cannot become a flood of fetches.
    jwks_min_refresh_seconds: float = Field(default=10.0, gt=0)
    # Ended sign-ins (shared/revocations.py) arrive by NOTIFY within milliseconds; this poll
    # only covers a notification lost while the LISTEN connection was down.
    revocations_poll_seconds: float = Field(default=10.0, gt=0)
    # This service's own machine client, for service-to-service calls (client-credentials grant).
    service_client_id: str | None = None
    service_client_secret: str | None = None
    # A service with a directory read model (shared/directory/) loads it from the gateway on
    # first start when it is empty, and reports not ready until it has.
    directory_bootstrap: bool = True
    # Records per page of the gateway's directory snapshot read by a resync.
    directory_page_size: int = Field(default=200, ge=1, le=200)

    # Personal data at rest (shared/crypto.py). Field encryption keys, newest first:
    # "kid1:<base64 of 32 bytes>,kid0:<...>". New writes use the first; the others still
    # decrypt until `sprout pii rotate` has moved every row. Unset: a fixed development key
    # (refused in production by a service that holds personal data).
    pii_keys: SecretStr | None = None
    # The blind-index (HMAC) key for lookups of encrypted values, base64 of at least 32 bytes.
    # Changing it orphans existing indexes, so it does not rotate with pii_keys.
    pii_index_key: SecretStr | None = None

    # Where the other services live; the gateway proxies to them, services call each other.
    gateway_url: str = "http://127.0.0.1:8000"
    selection_url: str = "http://127.0.0.1:8001"
    mentoring_url: str = "http://127.0.0.1:8002"
    courses_url: str = "http://127.0.0.1:8003"
    tracking_url: str = "http://127.0.0.1:8004"

    @property
    def listen_port(self) -> int:
        return self.port if self.port is not None else self.default_port

    @property
    def pgdata(self) -> Path:
        return self.data_dir.resolve() / "pgdata"

    @property
    def effective_jwks_url(self) -> str:
        return self.jwks_url or self.gateway_url.rstrip("/") + "/.well-known/jwks.json"

    def service_url(self, name: str) -> str:
        return getattr(self, f"{name}_url")

    def development_defaults_in_use(self) -> list[str]:
        """Names of settings still at a value that is only acceptable off production."""
        found: list[str] = []
        if self.database_url is None:
            found.append("SPROUT_DATABASE_URL (the embedded database is for development only)")
        if self.holds_personal_data and self.pii_keys is None:
            found.append("SPROUT_PII_KEYS (the development encryption key protects nothing)")
        if self.holds_personal_data and self.pii_index_key is None:
            found.append("SPROUT_PII_INDEX_KEY (the development blind-index key protects nothing)")
        return found

    @model_validator(mode="after")
    def _refuse_development_defaults_in_production(self) -> BaseServiceSettings:
        if self.env is Environment.production:
            found = self.development_defaults_in_use()
            if found:
                raise DevelopmentDefaultInProduction(
                    "SPROUT_ENV=production refuses development defaults; set: " + "; ".join(found)
                )
        return self
