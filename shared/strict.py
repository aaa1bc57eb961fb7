"""Strict requests: a JSON body is validated as JSON, and no text a client sends holds NUL or an unpaired surrogate.

FastAPI decodes a JSON body into Python objects and validates those leniently, so `"disabled": 0`
became `False`, `"grade": "7"` became 7 and `"birth_date": 0` became 1970-01-01: a client's
mistake was quietly turned into data. Every route of every service is a `StrictRoute`
(`shared.routes.APIRouter` makes them, `create_service_app` refuses any other), which validates
a body whose parameter is a `RequestModel` with pydantic's strict JSON mode: a boolean is
`true` or `false`, an integer is an integer, a date is an ISO string, an enum one of its values,
and nothing unknown is accepted.

PostgreSQL text cannot hold NUL (a NUL reaching a query is a 500), and an unpaired surrogate is
not Unicode at all (it cannot be encoded as UTF-8). Both are refused with 422 wherever a client
can put text: every string inside a `RequestModel` (at any depth), every query, header and
path parameter of every route, and every header value a route decodes itself (annotate it
`Text`). And a parameter is spelled as its type is in JSON: `true`/`false`, `7`, `2026-12-01`,
`2026-12-01T08:00:00+08:00` (FastAPI alone takes `yes` for true and `0` for 1970-01-01).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from shared.problems import ProblemError

TEXT_INVALID = "text_invalid"


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate"
    return None


def check_text(value: str) -> str:
    """The shared rule as a pydantic validator: the value, or a `text_invalid` error."""
    problem = text_problem(value)
    if problem is not None:
        raise PydanticCustomError(TEXT_INVALID, "Text {problem}", {"problem": problem})
    return value


Text = Annotated[str, AfterValidator(check_text)]
"""A string a client sent that may be stored as text: use it for query, path and header parameters."""

# Not all blank, no NUL: what the schema says of a name, so a client (and the fuzzer) knows
# that "  " is refused before it sends it.
NAME_PATTERN = r"^\s*[^\s\u0000][^\u0000]*$"


def name_type(max_length: int) -> Any:
    """A name in a body (a school's, a person's display name, a client's): the spaces around it
    dropped, then 1 to `max_length` characters; one that is all spaces is refused."""
    return Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length, pattern=NAME_PATTERN)
    ]


def _bad_strings(value: Any, loc: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str, str]]:
    """(location, value, problem) of every string in a decoded JSON value that `text_problem` refuses."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            yield loc, value, problem
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _bad_strings(key, (*loc, "<key>"))
            yield from _bad_strings(item, (*loc, key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _bad_strings(item, (*loc, i))


class RequestModel(BaseModel):
    """The base of every request body: unknown fields refused, text checked at any depth.

    Strictness (a boolean is a boolean) comes from `StrictRoute`, which validates the body as
    JSON; this class keeps the text rule for models validated any other way too.
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _text_is_storable(cls, value: Any) -> Any:
        for loc, _, problem in _bad_strings(value):
            where = "".join(f"[{p!r}]" for p in loc)
            raise PydanticCustomError(TEXT_INVALID, "Text {problem}{where}", {"problem": problem, "where": f" at {where}" if where else ""})
        return value


def _error(kind: str, loc: tuple[str | int, ...], msg: str, value: Any, **ctx: Any) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "msg": msg, "input": value, **({"ctx": ctx} if ctx else {})}


def json_body_model(route: APIRoute) -> type[RequestModel] | None:
    """The RequestModel a route takes as its whole JSON body, if it takes one."""
    params = route.dependant.body_params
    if len(params) != 1 or getattr(params[0].field_info, "embed", False):
        return None
    annotation = params[0].field_info.annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, RequestModel) else None


def _is_json(content_type: str) -> bool:
    main = content_type.split(";", 1)[0].strip().lower()
    return main == "application/json" or (main.startswith("application/") and main.endswith("+json"))


# How a parameter of each type is written in a URL or a header: the JSON spelling of the
# value (FastAPI would also take "yes", "on" and "1" for true, "1.0" for 1, or "0" for a
# date-time, 1970-01-01). Types not listed are parsed by FastAPI as they are.
_SPELLING: dict[type, tuple[str, re.Pattern[str], str]] = {
    bool: ("bool_parsing", re.compile(r"true|false"), "Input should be true or false"),
    int: ("int_parsing", re.compile(r"-?(0|[1-9][0-9]*)"), "Input should be an integer"),
    float: ("float_parsing", re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?"), "Input should be a number"),
    date: ("date_parsing", re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"), "Input should be a date, YYYY-MM-DD"),
    datetime: (
        "datetime_parsing",
        re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}:?[0-9]{2})?"),
        "Input should be an RFC 3339 date-time",
    ),
}


def _scalar_type(annotation: Any) -> type | None:
    """The scalar type of a parameter annotation (`int`, `bool | None`, `list[date]`...), else None."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        kinds = [a for a in get_args(annotation) if a is not type(None)]
        return _scalar_type(kinds[0]) if len(kinds) == 1 else None
    if origin in (list, tuple, set, frozenset):
        args = get_args(annotation)
        return _scalar_type(args[0]) if args else None
    return annotation if annotation in _SPELLING else None


@dataclass(frozen=True)
class _Parameter:
    where: str  # query, header, path
    name: str
    kind: type | None  # a type of _SPELLING, or None for text and the rest


def _parameters(route: APIRoute) -> tuple[_Parameter, ...]:
    """The parameters a route declares, its dependencies' included."""
    found: list[_Parameter] = []
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        for where, fields in (("query", dependant.query_params), ("header", dependant.header_params), ("path", dependant.path_params)):
            for f in fields:
                name = f.alias
                if where == "header" and getattr(f.field_info, "convert_underscores", True) and not f.field_info.alias:
                    name = name.replace("_", "-")
                found.append(_Parameter(where, name, _scalar_type(f.field_info.annotation)))
        pending.extend(dependant.dependencies)
    return tuple(found)


def _access_rules(route: APIRoute) -> tuple[Any, ...]:
    """The route's access rules (shared/auth.py), its dependencies' included."""
    from shared.auth import AccessRule

    found = []
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if isinstance(dependant.call, AccessRule):
            found.append(dependant.call)
        pending.extend(dependant.dependencies)
    return tuple(found)


def _refuse_bad_parameters(request: Request, parameters: tuple[_Parameter, ...]) -> None:
    """422 for a declared parameter holding NUL or an unpaired surrogate, or not spelled as its
    type is in JSON (a parameter the route does not declare is ignored, as FastAPI ignores it)."""
    errors = []
    for p in parameters:
        if p.where == "query":
            values = request.query_params.getlist(p.name)
        elif p.where == "header":
            values = request.headers.getlist(p.name)
        else:
            values = [request.path_params[p.name]] if p.name in request.path_params else []
        for value in values:
            if not isinstance(value, str):
                continue
            problem = text_problem(value)
            if problem is not None:
                errors.append(_error(TEXT_INVALID, (p.where, p.name), f"Text {problem}", value))
            elif p.kind is not None:
                kind, spelling, message = _SPELLING[p.kind]
                if not spelling.fullmatch(value):
                    errors.append(_error(kind, (p.where, p.name), message, value))
    if errors:
        raise RequestValidationError(errors)


async def _validated_body(request: Request, model: type[RequestModel]) -> RequestModel | None:
    """The body as `model`, validated in strict JSON mode; None when there is no body."""
    body = await request.body()
    if not body:
        return None
    content_type = request.headers.get("content-type")
    if content_type is None or not _is_json(content_type):
        raise ProblemError("unsupported_media_type", content_type=(content_type or "none").split(";")[0][:100])
    if b"\\u0000" in body:
        # A NUL can only arrive escaped; name the field it is in (the model's own check could
        # name only the top-level field).
        _refuse_bad_text(body, reason=None)
    try:
        return model.__pydantic_validator__.validate_json(body, strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    invalid = next((e for e in errors if e["type"] == "json_invalid"), None)
    if invalid is None:
        integral = _integers_written_as_floats(body, errors)
        if integral is not None:
            try:
                return model.__pydantic_validator__.validate_json(integral, strict=True)
            except ValidationError as again:  # the integer itself is refused (2101.0 where at most 2100)
                errors = again.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None
    # The JSON parser refuses text that is not Unicode (a lone surrogate escape, "\ud800") as
    # if it were a syntax error. Python's parser reads it: when it does, the JSON was well
    # formed and only its text is refused, with the field named.
    _refuse_bad_text(body, reason=invalid.get("ctx", {}).get("error", "cannot parse"))
    raise AssertionError("unreachable")


def _integers_written_as_floats(body: bytes, errors: list[dict[str, Any]]) -> bytes | None:
    """`body` with its integral numbers written as integers, when those are all the errors were.

    JSON has one number type: 12.0 is the integer 12 (JSON Schema says so), which strict mode
    alone refuses for an int field. 12.5 is still refused. Only a refused body pays for this.
    """
    if not errors or not all(e["type"] == "int_type" and isinstance(e["input"], float) and e["input"].is_integer() for e in errors):
        return None
    decoded = json.loads(body)
    for e in errors:
        *path, last = e["loc"]
        node = decoded
        for step in path:
            node = node[step]
        node[last] = int(node[last])
    return json.dumps(decoded).encode()


def _refuse_bad_text(body: bytes, *, reason: str | None) -> None:
    """Raise the 422 naming each unstorable string of `body`; a 400 (`reason`) if there is none
    and `reason` says the JSON was refused; return when the JSON holds no such string."""
    try:
        decoded = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise RequestValidationError([_error("json_invalid", ("body",), "JSON decode error", "", error=reason or str(exc)[:200])]) from None
    bad = [_error(TEXT_INVALID, ("body", *loc), f"Text {problem}", value) for loc, value, problem in _bad_strings(decoded)]
    if bad:
        raise RequestValidationError(bad)
    if reason is not None:
        raise RequestValidationError([_error("json_invalid", ("body",), "JSON decode error", "", error=reason)])


class StrictRoute(APIRoute):
    """An APIRoute that refuses bad text in its parameters and validates a RequestModel body as strict JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        model = json_body_model(self)
        parameters = _parameters(self)
        rules = _access_rules(self)

        async def strict_handler(request: Request) -> Response:
            # Who may call comes first, as it does in FastAPI's own order: a caller who may not
            # call the route learns 401 or 403, not how its body is checked.
            for rule in rules:
                await rule(request)
            _refuse_bad_parameters(request, parameters)
            if model is not None:
                value = await _validated_body(request, model)
                if value is not None:
                    # FastAPI reads the body through `request.json()`, which Starlette caches in
                    # `_json`: handing it the validated model means FastAPI's own (lenient)
                    # validation finds an instance of the right class and keeps it as it is.
                    request._json = value
            return await handler(request)

        return strict_handler


# At least three characters once the spaces around are dropped, no NUL: the schema says so, so
# that " 00" is known to be too short before it is sent.
REASON_PATTERN = r"^\s*[^\s\u0000][^\u0000]+[^\s\u0000]\s*$"

# A reason a person writes for the record (a forced pair, a decision against the proposal): the
# spaces around it dropped, then 3 to 2000 characters.
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000, pattern=REASON_PATTERN),
]
