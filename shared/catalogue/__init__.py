"""Every error the API can answer with, keyed by its stable `code`, in English and Chinese.

Frontends switch on `code`, never on the text; the text is for people. Add a code before
raising it: `ProblemError` refuses codes that are not in the catalogue.

This module holds the platform's codes: those `shared/` itself answers with (HTTP, tokens,
pagination, idempotency, consent checks, ...). Each service keeps its own in a module of this
package named after it (`gateway.py`, `selection.py`, ...), registered with `codes`:

    from shared.catalogue import codes, define as _e

    codes({
        "nomination_closed": _e(
            409, "Nominations closed", "提名已截止",
            "Nominations for campaign {campaign_id} closed on {closed_on}.",
            "选拔活动 {campaign_id} 的提名已于 {closed_on} 截止。",
        ),
    })

Every module of the package is imported when the package is (as event contracts are), so
`CATALOGUE` is complete wherever a problem can be raised, and four teams never edit one
file. A code is registered once: a second module registering it is refused at import, so
two services cannot give one code two meanings.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


@dataclass(frozen=True)
class Entry:
    status: int
    en: str
    zh: str
    title_en: str
    title_zh: str


def define(status: int, title_en: str, title_zh: str, en: str, zh: str) -> Entry:
    """An entry: its HTTP status, its title and its message (a `str.format` template of the problem's params)."""
    return Entry(status=status, en=en, zh=zh, title_en=title_en, title_zh=title_zh)


_e = define

CATALOGUE: dict[str, Entry] = {}
# The module that registered each code, to name both when a second one tries.
_owners: dict[str, str] = {}


class DuplicateCode(ValueError):
    """A code registered by two modules (or twice, differently, by one)."""


def codes(entries: Mapping[str, Entry], *, owner: str | None = None) -> None:
    """Register `entries`; `owner` defaults to the calling module's name."""
    owner = owner or sys._getframe(1).f_globals.get("__name__", "?")
    for code, found in entries.items():
        if not CODE_PATTERN.match(code):
            raise ValueError(f"problem code {code!r} must be lower_snake_case, 2-64 characters")
        if not isinstance(found, Entry) or not 400 <= found.status <= 599:
            raise ValueError(f"problem code {code!r}: an Entry with a 4xx or 5xx status")
        existing = CATALOGUE.get(code)
        if existing is not None and (existing != found or _owners[code] != owner):
            raise DuplicateCode(f"problem code {code!r} is registered by {_owners[code]} already (now by {owner})")
        CATALOGUE[code] = found
        _owners[code] = owner


def unregister(code: str) -> None:
    """For tests that register throwaway codes."""
    CATALOGUE.pop(code, None)
    _owners.pop(code, None)


def owner_of(code: str) -> str:
    """The module that registered `code`."""
    return _owners[code]


def entry(code: str) -> Entry:
    return CATALOGUE[code]


codes({
    # Generic HTTP.
    "not_found": _e(404, "Not found", "未找到", "No resource at {path}.", "路径 {path} 不存在。"),
    "method_not_allowed": _e(
        405, "Method not allowed", "方法不被允许",
        "{method} is not allowed here; allowed: {allowed}.",
        "此处不允许 {method} 请求；允许的方法：{allowed}。",
    ),
    "validation_failed": _e(
        422, "Invalid request", "请求参数无效",
        "The request has {count} invalid field(s); see `errors`.",
        "请求中有 {count} 个字段无效，详见 `errors`。",
    ),
    "malformed_json": _e(
        400, "Malformed JSON", "JSON 格式错误",
        "The request body is not valid JSON: {reason}.",
        "请求体不是有效的 JSON：{reason}。",
    ),
    "payload_too_large": _e(
        413, "Request body too large", "请求体过大",
        "The request body exceeds the limit of {limit} bytes.",
        "请求体超过了 {limit} 字节的上限。",
    ),
    "malformed_body": _e(
        400, "Malformed body", "请求体格式错误",
        "The request body could not be read: {reason}.",
        "无法解析请求体：{reason}。",
    ),
    "unsupported_media_type": _e(
        415, "Unsupported media type", "不支持的媒体类型",
        "Content type {content_type} is not accepted; send application/json.",
        "不接受内容类型 {content_type}，请使用 application/json。",
    ),
    "internal_error": _e(
        500, "Internal error", "服务器内部错误",
        "Something went wrong on our side; quote request id {request_id} when reporting it.",
        "服务器出现错误；报告问题时请提供请求编号 {request_id}。",
    ),
    "http_error": _e(400, "Request failed", "请求失败", "{reason}", "{reason}"),
    # Authentication and authorisation.
    "not_authenticated": _e(
        401, "Not authenticated", "未登录",
        "This request needs a bearer token; get one from /auth/token.",
        "此请求需要访问令牌，请先通过 /auth/token 获取。",
    ),
    "invalid_token": _e(
        401, "Invalid token", "令牌无效",
        "The access token is not valid.",
        "访问令牌无效。",
    ),
    "token_expired": _e(
        401, "Token expired", "令牌已过期",
        "The access token has expired; refresh it.",
        "访问令牌已过期，请刷新。",
    ),
    "forbidden": _e(
        403, "Forbidden", "无权访问",
        "Your role may not do this; it needs one of: {roles}.",
        "您的角色无权执行此操作；需要以下角色之一：{roles}。",
    ),
    "insufficient_scope": _e(
        403, "Insufficient scope", "权限范围不足",
        "This client's token lacks the scope(s): {scopes}.",
        "此客户端的令牌缺少权限范围：{scopes}。",
    ),
    # Readiness.
    "not_ready": _e(
        503, "Not ready", "服务未就绪",
        "The service is not ready: {reason}.",
        "服务未就绪：{reason}。",
    ),
    # Shared helpers.
    "invalid_cursor": _e(
        400, "Invalid cursor", "无效的分页游标",
        "The pagination cursor is not one this API issued.",
        "分页游标无效。",
    ),
    "idempotency_key_reused": _e(
        422, "Idempotency key reused", "幂等键被重复使用",
        "This Idempotency-Key was already used with a different request.",
        "该 Idempotency-Key 已用于另一个不同的请求。",
    ),
    "idempotency_key_invalid": _e(
        400, "Invalid idempotency key", "幂等键无效",
        "Idempotency-Key must be 1 to 255 printable characters.",
        "Idempotency-Key 必须为 1 到 255 个可打印字符。",
    ),
    "idempotency_key_anonymous": _e(
        400, "Idempotency key needs a signed-in caller", "幂等键需要登录",
        "Idempotency-Key belongs to the caller who sends it: send it with your access token, or send the request "
        "without it.",
        "Idempotency-Key 归属于发送它的调用方：请携带访问令牌发送，或不带该键发送请求。",
    ),
    # Updates of versioned records (shared/etag.py).
    "precondition_required": _e(
        428, "If-Match required", "需要 If-Match",
        "Send If-Match with the ETag you read, so a concurrent change is not overwritten.",
        "请在 If-Match 中提供读取时得到的 ETag，以免覆盖他人同时所做的修改。",
    ),
    "precondition_failed": _e(
        412, "Changed since you read it", "数据已被修改",
        "The record changed since you read it (now {etag}); read it again and retry.",
        "该记录在您读取后已被修改（当前 {etag}），请重新读取后再试。",
    ),
    # Personal data that cannot be accepted (shared/personal.py), in single requests and rows of a file alike.
    "id_number_format": _e(
        422, "Invalid ID number", "身份证号格式错误",
        "The ID number must be 18 characters: 17 digits and a digit or X.", "身份证号须为 18 位：17 位数字加 1 位数字或 X。",
    ),
    "id_number_checksum": _e(
        422, "Invalid ID number", "身份证号校验错误",
        "The ID number's check character does not match; a digit may be mistyped.", "身份证号校验位不符，可能有数字输错。",
    ),
    "id_number_birth_date": _e(
        422, "Invalid ID number", "身份证号出生日期错误",
        "The birth date inside the ID number is not a real date in range.", "身份证号中的出生日期无效或超出范围。",
    ),
    "phone_format": _e(
        422, "Invalid phone number", "手机号格式错误",
        "The phone number must be a mainland mobile number: 11 digits starting 13-19.",
        "手机号须为 11 位大陆手机号码，以 13-19 开头。",
    ),
    # Uploaded spreadsheets (shared/sheets): the file, then its rows' cells.
    "import_unreadable": _e(
        422, "File not readable", "文件无法读取",
        "The file cannot be read as CSV (UTF-8 or GBK) or XLSX: {reason}.", "无法以 CSV（UTF-8 或 GBK）或 XLSX 格式读取该文件：{reason}。",
    ),
    "import_missing_columns": _e(
        422, "Columns missing", "缺少必需的列",
        "The file's header row lacks the column(s): {columns}.", "文件表头缺少以下列：{columns}。",
    ),
    "import_too_large": _e(
        413, "File too large", "文件过大",
        "The file exceeds {limit} bytes; split it into smaller files.", "文件超过 {limit} 字节，请拆分为较小的文件。",
    ),
    "import_too_many_rows": _e(
        413, "Too many rows", "行数过多",
        "The file has more than {limit} data rows; split it into smaller files.", "文件数据行超过 {limit} 行，请拆分为较小的文件。",
    ),
    "import_empty": _e(422, "No rows", "没有数据行", "The file has a header but no data rows.", "文件只有表头，没有数据行。"),
    "row_value_missing": _e(422, "Value missing", "缺少必填项", "{column} is empty.", "{column}为空。"),
    "row_value_too_long": _e(
        422, "Value too long", "内容过长", "{column} is longer than {limit} characters.", "{column}超过 {limit} 个字符。",
    ),
    "duplicate_in_file": _e(
        422, "Duplicate in the file", "文件内重复",
        "The same {column} appears on line {line} of this file.", "与本文件第 {line} 行的{column}重复。",
    ),
    "row_value_formula": _e(
        422, "Formula in a cell", "单元格含公式",
        "{column} starts like a spreadsheet formula (=, +, - or @); write the value itself.",
        "{column}以电子表格公式符号（=、+、- 或 @）开头，请直接填写内容。",
    ),
    "row_number_invalid": _e(422, "Not a number", "不是数字", "{column} must be a number.", "{column}须为数字。"),
    "row_number_not_whole": _e(422, "Not a whole number", "不是整数", "{column} must be a whole number.", "{column}须为整数。"),
    "row_number_out_of_range": _e(
        422, "Number out of range", "数值超出范围",
        "{column} must be between {minimum} and {maximum}.", "{column}须在 {minimum} 至 {maximum} 之间。",
    ),
    "row_date_invalid": _e(
        422, "Not a date", "日期格式错误",
        "{column} must be a date, such as 2026-12-01.", "{column}须为日期，例如 2026-12-01。",
    ),
    "row_date_out_of_range": _e(
        422, "Date out of range", "日期超出范围",
        "{column} must be between {earliest} and {latest}.", "{column}须在 {earliest} 至 {latest} 之间。",
    ),
    "row_choice_invalid": _e(
        422, "Not one of the choices", "不在可选范围内",
        "{column} must be one of: {choices}.", "{column}须为以下之一：{choices}。",
    ),
    "sheet_rejected": _e(
        422, "File rejected", "文件被拒绝",
        "{count} row(s) of the file cannot be accepted, so nothing was taken from it; see `errors` (by line), fix them and send the file again.",
        "文件中有 {count} 行无法接受，因此未采用任何数据；请按 `errors` 中的行号修正后重新上传。",
    ),
    # Conflicts of interest, as selection panels and defense panels declare them (shared/conflicts.py).
    "conflict_reason_required": _e(
        422, "Reason required", "需要说明理由",
        "A conflict of kind '{kind}' needs a reason: say what it is (for example, which course was taught, or which project).",
        "类型为“{kind}”的利益冲突须说明理由（例如教过哪门课程、合作过哪个项目）。",
    ),
    # Consent checks, as every service asks them (shared/consent.py).
    "consent_required": _e(
        403, "Consent missing", "缺少同意",
        "Consent missing: student {student_id} has no '{purpose}' consent in force (partner: {partner}). Their data is "
        "not processed or shared for this purpose until a guardian gives it (or the student, if 14 or older).",
        "缺少同意：学生 {student_id} 没有用途为“{purpose}”的有效同意（合作单位：{partner}）。在监护人"
        "（或年满 14 周岁的学生本人）给予同意之前，不得为此用途处理或共享其个人信息。",
    ),
    "consent_check_busy": _e(
        503, "Consent check busy", "同意核验繁忙",
        "Consent checks are busy right now; nothing was processed. Try again in {retry_after} seconds.",
        "同意核验当前繁忙，未处理任何数据；请在 {retry_after} 秒后重试。",
    ),
    "consent_unverifiable": _e(
        503, "Consent cannot be checked", "无法核验同意",
        "Whether student {student_id} consented to '{purpose}' cannot be checked now ({reason}); their data is not "
        "processed until it can be. Try again shortly.",
        "暂时无法核验学生 {student_id} 是否同意“{purpose}”（{reason}）；核验之前不处理其个人信息，请稍后重试。",
    ),
})


def _import_service_modules() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


_import_service_modules()
