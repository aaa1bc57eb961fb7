"""What the fuzzer checks besides schemathesis's own checks (every one of which is on too).

Registered with schemathesis, so they run with the built-in checks on every response:

- `problem_code_declared`: a problem's `code` is one of the `x-problem-codes` its operation
  declares for that status (the contract of shared/openapi.py), so a client switching on
  codes meets none it was not told of;
- `schema_valid_refused_only_by_a_rule`: schemathesis.toml lets `positive_data_acceptance`
  see a schema-valid request refused with 400 or 422, for rules no schema states (a cursor
  this API did not issue, an Idempotency-Key already used for another request, a partner
  client without its partner, an empty spreadsheet). This check takes back what that lets
  through: such a refusal must name its rule, never say that the request did not match
  its schema, which would mean the document and the code disagree.
"""

from __future__ import annotations

import schemathesis

PROBLEM = "application/problem+json"

# The codes that say "this request does not match the operation's schema".
SCHEMA_REFUSALS = frozenset({"validation_failed", "malformed_json", "malformed_body", "unsupported_media_type"})


def _problem_code(response) -> str | None:
    if response.headers.get("content-type", [""])[0].split(";")[0] != PROBLEM:
        return None
    body = response.json()
    return body.get("code") if isinstance(body, dict) else None


@schemathesis.check
def problem_code_declared(ctx, response, case) -> bool | None:
    declared = case.operation.definition.raw.get("responses", {}).get(str(response.status_code), {})
    codes = declared.get("x-problem-codes")
    code = _problem_code(response)
    if codes is None or code is None:
        return None  # a success, or a status status_code_conformance already judges
    if code not in codes:
        raise AssertionError(f"{response.status_code} `{code}` is not among the codes declared for it: {codes}")
    return None


@schemathesis.check
def schema_valid_refused_only_by_a_rule(ctx, response, case) -> bool | None:
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code not in (400, 422):
        return None
    code = _problem_code(response)
    if code in SCHEMA_REFUSALS:
        raise AssertionError(f"a request valid by the schema was refused with {response.status_code} `{code}`")
    return None
