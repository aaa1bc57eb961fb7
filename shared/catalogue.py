"""Every error the API can answer with, keyed by its stable `code`, in English and Chinese.

Frontends switch on `code`, never on the text; the text is for people. Add a code here
before raising it: `ProblemError` refuses codes that are not in this catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    status: int
    en: str
    zh: str
    title_en: str
    title_zh: str


def _e(status: int, title_en: str, title_zh: str, en: str, zh: str) -> Entry:
    return Entry(status=status, en=en, zh=zh, title_en=title_en, title_zh=title_zh)


CATALOGUE: dict[str, Entry] = {
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
    # Gateway.
    "service_unavailable": _e(
        502, "Service unavailable", "服务不可用",
        "The {service} service did not answer.",
        "{service} 服务未响应。",
    ),
    "service_timeout": _e(
        504, "Service timed out", "服务超时",
        "The {service} service did not answer within {timeout} seconds.",
        "{service} 服务在 {timeout} 秒内未响应。",
    ),
    "unknown_service": _e(
        404, "Unknown service", "未知服务",
        "There is no service named {service}.",
        "不存在名为 {service} 的服务。",
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
}


def entry(code: str) -> Entry:
    return CATALOGUE[code]
