"""The OAuth 2.0 wire format (RFC 6749, RFC 7009): form parameters, client authentication, scopes, errors.

Errors are our problem+json with its stable `code`, plus the RFC's own `error` member (and
`error_description`), so a standard OAuth client reads them too. One deliberate departure:
a failed grant (`invalid_grant`: wrong password, bad refresh token) answers 401 rather than
the RFC's 400, since it is failed authentication; OAuth clients switch on `error`, and the
status is then the same as every other authentication failure of this API.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote_plus

from starlette.requests import Request
from starlette.responses import Response

from shared.problems import PROBLEM_JSON, ProblemError, language, problem_body

FORM = "application/x-www-form-urlencoded"
MAX_FIELDS = 16
SCOPE_TOKEN = re.compile(r"^[a-z][a-z0-9_.:\-]{0,99}$")
# What may be a username or client id: printable, no NUL (PostgreSQL text cannot hold one).
# The longest form value (the OpenAPI says so too: tokens/router.py).
MAX_VALUE = 4096
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")

# Our code -> RFC 6749 / RFC 7009 `error`.
OAUTH_ERRORS = {
    "token_request_invalid": "invalid_request",
    "unsupported_grant_type": "unsupported_grant_type",
    "invalid_scope": "invalid_scope",
    "invalid_client": "invalid_client",
    "invalid_credentials": "invalid_grant",
    "invalid_refresh_token": "invalid_grant",
    "login_throttled": "invalid_grant",
    "unsupported_token_type": "unsupported_token_type",
    "payload_too_large": "invalid_request",
}

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def invalid(reason: str) -> ProblemError:
    return ProblemError("token_request_invalid", reason=reason)


async def form(request: Request) -> dict[str, str]:
    """The request's form parameters; a parameter sent twice is refused, one sent empty is absent."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != FORM:
        raise invalid(f"send the parameters as {FORM}")
    raw = await request.body()
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise invalid("the form is not UTF-8, or has too many fields") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise invalid(f"the parameter {name} appears more than once")
        if "\x00" in value:
            raise invalid(f"the parameter {name} holds a NUL character")
        if len(value) > MAX_VALUE:
            raise invalid(f"the parameter {name} is longer than {MAX_VALUE} characters")
        # RFC 6749 3.1: a parameter sent without a value is treated as omitted.
        if value != "":
            params[name] = value
    return params


def required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if value is None:
        raise invalid(f"the parameter {name} is missing")
    return value


def valid_name(value: str) -> bool:
    return bool(_NAME.match(value))


def scopes_of(value: str | None) -> frozenset[str] | None:
    """The requested scopes (None: none requested); a malformed one is refused as invalid_scope."""
    if value is None:
        return None
    items = value.split(" ")
    bad = [s for s in items if not SCOPE_TOKEN.match(s)]
    if bad:
        raise ProblemError("invalid_scope", scope=" ".join(bad)[:200])
    return frozenset(items)


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    secret: str | None
    basic: bool  # sent in an Authorization: Basic header


_BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="sprout"'}


def client_credentials(request: Request, params: dict[str, str]) -> ClientCredentials | None:
    """The client's id and secret, from HTTP Basic (RFC 6749 2.3.1) or the form; never both."""
    header = request.headers.get("authorization")
    in_form = "client_id" in params or "client_secret" in params
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None if not in_form else _from_form(params)
        if in_form:
            raise invalid("send the client's credentials in one place: the Authorization header or the form")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise ProblemError("invalid_client", headers=_BASIC_CHALLENGE) from None
        raw_id, sep, raw_secret = decoded.partition(":")
        if not sep:
            raise ProblemError("invalid_client", headers=_BASIC_CHALLENGE)
        # The id and secret are form-encoded before they are joined (RFC 6749 2.3.1).
        return ClientCredentials(unquote_plus(raw_id), unquote_plus(raw_secret), basic=True)
    return _from_form(params) if in_form else None


def _from_form(params: dict[str, str]) -> ClientCredentials:
    if "client_id" not in params:
        raise invalid("client_secret without client_id")
    return ClientCredentials(params["client_id"], params.get("client_secret"), basic=False)


def error_response(request: Request, exc: ProblemError) -> Response:
    """A problem+json that a standard OAuth client also understands."""
    body = problem_body(
        exc.code, lang=language(request.headers.get("accept-language")), status=exc.status,
        instance=request.url.path, **exc.params,
    )
    error = OAUTH_ERRORS.get(exc.code)
    if error is not None:
        body["error"] = error
        body["error_description"] = body["detail"]
    headers = {**NO_STORE, **exc.headers}
    return Response(json.dumps(body, ensure_ascii=False), status_code=exc.status, media_type=PROBLEM_JSON, headers=headers)
