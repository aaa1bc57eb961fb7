"""Settings of the gateway service (environment variables prefixed SPROUT_)."""

import ipaddress
from typing import ClassVar

from pydantic import Field, field_validator

from shared.settings import BaseServiceSettings


class GatewaySettings(BaseServiceSettings):
    service_name: ClassVar[str] = "gateway"
    default_port: ClassVar[int] = 8000

    # The proxy. A timeout is the whole exchange with the service, waiting for a pooled
    # connection included; the connect timeout only the TCP handshake with a new one.
    proxy_timeout: float = Field(default=30.0, gt=0)
    proxy_connect_timeout: float = Field(default=2.0, gt=0)
    proxy_max_connections: int = Field(default=512, ge=1)
    # Per service, so one slow service cannot take every pooled connection.
    proxy_max_connections_per_service: int = Field(default=256, ge=1)
    # Must stay under the services' own keep-alive (uvicorn closes idle connections after
    # 5 s), or the gateway reuses connections the service is closing.
    proxy_keepalive: float = Field(default=4.0, gt=0)
    # Responses up to this size (by Content-Length) are read whole and sent in one piece;
    # larger or unsized ones are streamed through.
    proxy_buffer_bytes: int = Field(default=262_144, ge=0)

    # The combined OpenAPI document.
    openapi_cache_seconds: float = Field(default=10.0, ge=0)
    openapi_fetch_timeout: float = Field(default=5.0, gt=0)

    # Identity and personal data (services/gateway/identity, consent): sealed with the keys
    # of SPROUT_PII_KEYS and SPROUT_PII_INDEX_KEY (shared/settings.py, shared/crypto.py).
    holds_personal_data: ClassVar[bool] = True
    # Bulk import of students: upload size and row limits. The import's route takes a body of
    # this much plus a form's envelope, whatever SPROUT_REQUEST_MAX_BYTES says (shared/routes.py).
    import_max_bytes: int = Field(default=1_048_576, ge=1024)
    import_max_rows: int = Field(default=5000, ge=1)
    # Age below which processing a student's data needs a guardian's consent (PIPL art. 31).
    consent_age: int = Field(default=14, ge=0, le=18)
    # The consent text versions currently shown to guardians, per purpose.
    consent_text_version_participation: str = "participation-v1"
    consent_text_version_partner_sharing: str = "partner-sharing-v1"

    # Tokens and limits (services/gateway/tokens, services/gateway/limits).
    access_token_ttl: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl: int = Field(default=30 * 86_400, ge=60)
    # A refresh token presented again this soon after its use, while its successor is still
    # unused, gets that same successor again (two tabs refreshing at once, a lost answer)
    # instead of revoking its family as a reuse. 0: every reuse revokes.
    refresh_token_reuse_grace: float = Field(default=5.0, ge=0, le=60)
    # How long a replica trusts its cached copy of the signing keys before reading them again
    # (a key it has never seen is read at once, at most once a second).
    signing_key_cache_seconds: float = Field(default=30.0, gt=0, le=600)
    # `sprout keys rotate` publishes the new key at once but signs with it only this much later,
    # so every service's JWKS cache and every HTTP cache has it before the first token names it.
    signing_key_activation_delay: float = Field(default=120.0, ge=0)
    # Whether the gateway may create a signing key for itself when it finds none. Unset: yes
    # off production, never in production, where keys come from `sprout keys ensure|rotate`.
    signing_key_autogenerate: bool | None = None
    # Cache-Control max-age of /.well-known/jwks.json.
    jwks_max_age: int = Field(default=60, ge=0, le=3600)
    # Rate limits, per gateway replica (token buckets in memory): a burst, refilled per minute.
    rate_limit_enabled: bool = True
    rate_limit_per_minute: int = Field(default=600, ge=1)
    rate_limit_burst: int = Field(default=200, ge=1)
    # Callers without a valid token, by client address: a whole school may share one address.
    rate_limit_anonymous_per_minute: int = Field(default=1200, ge=1)
    rate_limit_anonymous_burst: int = Field(default=400, ge=1)
    # POST /auth/token and /auth/revoke, by client address: password guessing across accounts.
    rate_limit_token_per_minute: int = Field(default=120, ge=1)
    rate_limit_token_burst: int = Field(default=60, ge=1)
    # Our own services (role `service`), per client and calling address, so per replica.
    rate_limit_service_per_minute: int = Field(default=6000, ge=1)
    rate_limit_service_burst: int = Field(default=1000, ge=1)
    # Proxies (addresses or CIDR networks) in front of the gateway whose X-Forwarded-For is
    # believed (services/gateway/limits/clients.py); empty: none, the peer is the client.
    # deploy/README.md says what to set behind an ingress or a reverse proxy.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Login throttling per account, shared by every replica (gateway.login_throttle): after
    # `login_max_failures` failures within the window the account is locked, for a period that
    # doubles with each further failure up to the maximum; a successful login clears it.
    login_max_failures: int = Field(default=5, ge=1)
    login_failure_window: float = Field(default=900.0, gt=0)
    login_lockout: float = Field(default=60.0, gt=0)
    login_lockout_max: float = Field(default=3600.0, gt=0)
    # Browser origins allowed by CORS. Unset: the usual local dev servers in development,
    # none otherwise.
    cors_origins: list[str] | None = None

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad entry
        return value

    @property
    def autogenerate_signing_key(self) -> bool:
        if self.signing_key_autogenerate is None:
            return self.env != "production"
        return self.signing_key_autogenerate

    @property
    def effective_cors_origins(self) -> list[str]:
        if self.cors_origins is not None:
            return self.cors_origins
        if self.env == "development":
            return [f"http://{host}:{port}" for host in ("localhost", "127.0.0.1") for port in (3000, 5173, 8080)]
        return []

    def development_defaults_in_use(self) -> list[str]:
        found = super().development_defaults_in_use()
        if self.signing_key_autogenerate:
            found.append(
                "SPROUT_SIGNING_KEY_AUTOGENERATE (a key the gateway makes for itself is for development;"
                " provision keys with `sprout keys ensure` or `sprout keys rotate`)"
            )
        return found
