"""RFC 9457 problem details: the one error type, its JSON shape, and the handlers every app installs."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shared.catalogue import CATALOGUE
from shared.context import request_id_var

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where the field is: e.g. ['body', 'name'].")
    field: str = Field(description="The field's dotted name inside its location.")
    message: str
    type: str = Field(description="A stable machine-readable reason, e.g. 'missing'.")


class Problem(BaseModel):
    """An RFC 9457 problem; `code` is stable, `detail` is in the caller's language."""

    type: str = Field(examples=["https://sprout.dev/problems/not_found"])
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable error code; switch on this, never on the text.")
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


def language(accept_language: str | None) -> str:
    """'zh' when the caller prefers Chinese, else 'en'."""
    if not accept_language:
        return "en"
    best, best_q = "en", -1.0
    for part in accept_language.split(","):
        bits = part.strip().split(";")
        tag = bits[0].strip().lower()
        q = 1.0
        for b in bits[1:]:
            b = b.strip()
            if b.startswith("q="):
                try:
                    q = float(b[2:])
                except ValueError:
                    q = 0.0
        lang = "zh" if tag.startswith("zh") else "en" if tag.startswith("en") or tag == "*" else None
        # q=0 means "not this one" (RFC 9110 12.4.2), and so does an unreadable q.
        if lang and q > 0 and q > best_q:
            best, best_q = lang, q
    return best


class ProblemError(Exception):
    """Raise this from anywhere to answer with a problem+json; `code` must be in the catalogue."""

    def __init__(
        self,
        code: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
        **params: Any,
    ) -> None:
        if code not in CATALOGUE:
            raise KeyError(f"error code {code!r} is not in the catalogue (shared/catalogue/)")
        self.code = code
        self.status = status or CATALOGUE[code].status
        self.headers = headers or {}
        self.errors = errors
        self.params = params
        super().__init__(f"{code}: {params}")

    def __reduce__(self) -> tuple:
        # Across a process boundary (a worker's answer) as what it is, not as its message.
        return (_problem, (self.code, self.status, self.headers, self.errors, self.params))


class InvalidValue(ValueError):
    """A value that cannot be accepted, raised by the pure checks (shared/personal.py, shared/sheets):
    `code` is a catalogue code, the message says why in English for logs and tests.

    A route answers it as a problem (`raise exc.problem() from None`); a spreadsheet reader
    as the error of the row's cell.
    """

    def __init__(self, code: str, message: str = "", **params: Any) -> None:
        if code not in CATALOGUE:
            raise KeyError(f"error code {code!r} is not in the catalogue (shared/catalogue/)")
        super().__init__(message or code)
        self.code = code
        self.params = params

    def problem(self, **params: Any) -> ProblemError:
        return ProblemError(self.code, **{**self.params, **params})

    def __reduce__(self) -> tuple:
        return (_invalid, (self.code, str(self), self.params))


def _problem(code: str, status: int, headers: dict[str, str], errors: list[dict[str, Any]] | None, params: dict[str, Any]) -> ProblemError:
    return ProblemError(code, status=status, headers=headers, errors=errors, **params)


def _invalid(code: str, message: str, params: dict[str, Any]) -> InvalidValue:
    return InvalidValue(code, message, **params)


def detail(code: str, lang: str = "en", /, **params: Any) -> str:
    """The message of `code` in `lang` ('zh' or 'en'), filled with `params` (as written, if one is missing)."""
    e = CATALOGUE[code]
    template = e.zh if lang == "zh" else e.en
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


def problem_body(
    code: str,
    *,
    lang: str = "en",
    status: int | None = None,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    **params: Any,
) -> dict[str, Any]:
    e = CATALOGUE[code]
    body: dict[str, Any] = {
        "type": f"https://sprout.dev/problems/{code}",
        "title": e.title_zh if lang == "zh" else e.title_en,
        "status": status or e.status,
        "detail": detail(code, lang, **params),
        "code": code,
    }
    if instance:
        body["instance"] = instance
    rid = request_id_var.get()
    if rid:
        body["request_id"] = rid
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(
    code: str,
    *,
    lang: str = "en",
    status: int | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    **params: Any,
) -> Response:
    body = problem_body(code, lang=lang, status=status, instance=instance, errors=errors, **params)
    return Response(
        content=json.dumps(body, ensure_ascii=False),
        status_code=body["status"],
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _lang(request: Request) -> str:
    return language(request.headers.get("accept-language"))


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [p if isinstance(p, int) else str(p) for p in err.get("loc", ())]
        out.append(
            {
                "loc": loc,
                "field": ".".join(str(p) for p in loc[1:]) or (str(loc[0]) if loc else ""),
                "message": err.get("msg", "invalid"),
                "type": err.get("type", "invalid"),
            }
        )
    return out


async def _on_problem(request: Request, exc: ProblemError) -> Response:
    return problem_response(
        exc.code,
        lang=_lang(request),
        status=exc.status,
        headers=exc.headers,
        instance=request.url.path,
        errors=exc.errors,
        **exc.params,
    )


async def _on_validation(request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    bad_json = [e for e in errors if e.get("type") == "json_invalid"]
    if bad_json:
        reason = (bad_json[0].get("ctx") or {}).get("error") or "cannot parse"
        return problem_response("malformed_json", lang=_lang(request), instance=request.url.path, reason=reason)
    fields = _field_errors(exc)
    return problem_response(
        "validation_failed", lang=_lang(request), instance=request.url.path, errors=fields, count=len(fields)
    )


async def _on_http(request: Request, exc: StarletteHTTPException) -> Response:
    headers = dict(exc.headers or {})
    lang = _lang(request)
    if exc.status_code == 404:
        return problem_response("not_found", lang=lang, headers=headers, instance=request.url.path, path=request.url.path)
    if exc.status_code == 405:
        from shared.routes import allowed_methods

        # Every method the path has, not only those of the first route matching it (Starlette's
        # own header names one route's methods, though GET and PATCH of a path are two routes).
        allowed = ", ".join(allowed_methods(request.app, request.url.path)) or headers.get("Allow") or ""
        headers = {k: v for k, v in headers.items() if k.lower() != "allow"} | {"Allow": allowed}
        return problem_response(
            "method_not_allowed", lang=lang, headers=headers, instance=request.url.path,
            method=request.method, allowed=allowed,
        )
    if exc.status_code == 413:
        from shared.middleware import BodyTooLarge

        limit = exc.limit if isinstance(exc, BodyTooLarge) else "?"
        return problem_response("payload_too_large", lang=lang, instance=request.url.path, limit=limit)
    if exc.status_code == 400:
        # FastAPI's answer to a form or JSON body it could not decode.
        return problem_response("malformed_body", lang=lang, instance=request.url.path, reason=str(exc.detail))
    return problem_response(
        "http_error", lang=lang, status=exc.status_code, headers=headers, instance=request.url.path,
        reason=str(exc.detail),
    )


async def _on_unhandled(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return problem_response(
        "internal_error", lang=_lang(request), instance=request.url.path, request_id=request_id_var.get() or "-"
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unhandled)


def problem_responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` naming the problems a route itself raises (its domain's codes).

    What the layers around it answer (validation, tokens, pagination, limits, 413, 500) is
    added to every operation by shared/openapi.py from what the route uses; list only the
    codes its own code raises.
    """
    from shared.openapi import problem_response

    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(CATALOGUE[code].status, []).append(code)
    return {status: problem_response(cs) for status, cs in sorted(by_status.items())}
