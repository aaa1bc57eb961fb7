"""Asking the gateway whether a student's consent holds, before a service processes their data beyond the nomination.

PIPL art. 31: a child under 14 needs a guardian's consent; sharing with a partner university
always needs a consent naming it. The gateway keeps the consents; a service asks it, fresh,
each time it is about to act (a consent withdrawn a second ago must stop the next step), with
its own client-credentials token (shared/service_client.py)::

    @router.post("/registrations", dependencies=[Depends(require("staff"))])
    async def register(body: RegistrationIn, consents: Consents, ...) -> ...:
        await consents.require(body.student_id, purpose="participation")
        ...

`require` raises 403 `consent_required` (its detail names the missing consent) when the
student's data may not be processed for the purpose, 404 `student_not_found` for an unknown
student, and 503 `consent_unverifiable` when the answer cannot be had (gateway down, this
service has no machine client): without a known yes, nothing is processed. When the
gateway says this service is over its rate limit (429) or briefly unavailable (503), the
question is asked once more after the wait it names, if that is short (2 s); a limit that
still holds is 503 `consent_check_busy` with `Retry-After`, which tells the person to try
again shortly and blames neither them nor the consent.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import httpx
from fastapi import Depends, Request

from shared.problems import ProblemError
from shared.service_client import ServiceTokenError, ServiceTokenProvider, retry_after, with_one_retry
from shared.settings import BaseServiceSettings

log = logging.getLogger(__name__)

Purpose = Literal["participation", "partner_sharing"]

# Gateway answers passed on as they are: the question itself was wrong.
_PASSED_ON = {"student_not_found", "partner_not_found", "consent_partner_required"}


@dataclass(frozen=True)
class ConsentStatus:
    """The gateway's answer: `allowed` is `holds or not required`."""

    student_id: uuid.UUID
    purpose: str
    partner_id: uuid.UUID | None
    required: bool
    holds: bool
    allowed: bool
    age: int | None
    consent_id: uuid.UUID | None
    text_version: str | None


class ConsentClient:
    """Asks the gateway's `GET /consents/check` with this service's token; one per app (`app.state.consents`)."""

    def __init__(
        self, gateway_url: str, tokens: httpx.Auth | None, *, timeout: float = 5.0, max_retry_wait: float = 2.0
    ) -> None:
        self.url = gateway_url.rstrip("/") + "/consents/check"
        self.tokens = tokens
        self.timeout = timeout
        self.max_retry_wait = max_retry_wait
        self._http: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: BaseServiceSettings, **kwargs: Any) -> ConsentClient:
        """Built at startup; a service without a machine client starts, and refuses (503) when it asks."""
        tokens = None
        if settings.service_client_id and settings.service_client_secret:
            tokens = ServiceTokenProvider.from_settings(settings)
        return cls(settings.gateway_url, tokens, **kwargs)

    async def check(
        self, student_id: uuid.UUID | str, purpose: Purpose = "participation", *, partner_id: uuid.UUID | str | None = None
    ) -> ConsentStatus:
        """Whether the student's data may be processed (or shared with the partner) for the purpose."""
        params = {"student_id": str(student_id), "purpose": purpose}
        if partner_id is not None:
            params["partner_id"] = str(partner_id)

        def unverifiable(reason: str) -> ProblemError:
            return ProblemError("consent_unverifiable", student_id=student_id, purpose=purpose, reason=reason)

        if self.tokens is None:
            log.error("no machine client: set SPROUT_SERVICE_CLIENT_ID and SPROUT_SERVICE_CLIENT_SECRET")
            raise unverifiable("this service has no machine client to ask the gateway with")
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout, auth=self.tokens)
        http = self._http
        try:
            r = await with_one_retry(lambda: http.get(self.url, params=params), max_wait=self.max_retry_wait)
        except ServiceTokenError as exc:
            if exc.status == 429:
                raise self._busy(exc.retry_after) from None
            log.warning("could not check consent", extra={"error": repr(exc)})
            raise unverifiable("the gateway did not answer") from None
        except httpx.HTTPError as exc:
            log.warning("could not check consent", extra={"error": repr(exc)})
            raise unverifiable("the gateway did not answer") from None
        if r.status_code == 429:
            raise self._busy(retry_after(r))
        body = _json(r)
        if r.status_code == 200:
            return ConsentStatus(
                student_id=uuid.UUID(body["student_id"]),
                purpose=body["purpose"],
                partner_id=uuid.UUID(body["partner_id"]) if body.get("partner_id") else None,
                required=body["required"],
                holds=body["holds"],
                allowed=body["allowed"],
                age=body.get("age"),
                consent_id=uuid.UUID(body["consent_id"]) if body.get("consent_id") else None,
                text_version=body.get("text_version"),
            )
        code = body.get("code")
        if code in _PASSED_ON:
            raise ProblemError(code, student_id=student_id, partner_id=partner_id)
        if r.status_code >= 500:
            log.warning("the gateway could not answer a consent check", extra={"status": r.status_code, "code": code})
        else:
            # 401/403: this service's client is disabled or lacks the role `service`; an operator must act.
            log.error("the gateway refused a consent check", extra={"status": r.status_code, "code": code})
        raise unverifiable(f"the gateway answered {r.status_code} {code or ''}".strip())

    @staticmethod
    def _busy(wait: float | None) -> ProblemError:
        # Not this person's limit and not a missing consent: this service asked too often.
        seconds = max(1, math.ceil(wait or 1))
        log.warning("the gateway rate-limited this service's consent checks", extra={"retry_after": seconds})
        return ProblemError("consent_check_busy", headers={"Retry-After": str(seconds)}, retry_after=seconds)

    async def require(
        self, student_id: uuid.UUID | str, purpose: Purpose = "participation", *, partner_id: uuid.UUID | str | None = None
    ) -> ConsentStatus:
        """`check`, raising 403 `consent_required` (naming the missing consent) unless the data may be processed."""
        status = await self.check(student_id, purpose, partner_id=partner_id)
        if not status.allowed:
            raise ProblemError(
                "consent_required", student_id=student_id, purpose=purpose, partner=partner_id if partner_id else "—"
            )
        return status

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if isinstance(self.tokens, ServiceTokenProvider):
            await self.tokens.aclose()


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def consent_client(request: Request) -> ConsentClient:
    """This app's consent client (made in shared/app.py's lifespan)."""
    return request.app.state.consents


Consents = Annotated[ConsentClient, Depends(consent_client)]
