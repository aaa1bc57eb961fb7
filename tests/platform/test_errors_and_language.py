"""A bug answers a plain 500 with the request id to quote; every error reads in English or Chinese."""

import json
import re
import string

import pytest

from shared.catalogue import CATALOGUE
from shared.problems import language
from tests.platform.conftest import assert_problem
from tests.platform.sample_service.app import SECRET

CJK = re.compile(r"[\u4e00-\u9fff]")


async def test_an_unhandled_exception_is_a_500_without_its_text_or_stack(sample, capsys):
    r = await sample.get("/failures/unhandled", headers={"x-request-id": "bug-report-7"})
    body = assert_problem(r, 500, "internal_error")
    assert body["request_id"] == "bug-report-7"
    assert "bug-report-7" in body["detail"]
    for leak in (SECRET, "hunter2", "RuntimeError", "Traceback", "could not connect", ".py"):
        assert leak not in r.text
    # Ops get the whole story in the log line of that request.
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    error = next(line for line in lines if line["message"] == "unhandled error")
    assert error["request_id"] == "bug-report-7"
    assert error["level"] == "error"
    assert "hunter2" in error["exception"] and "RuntimeError" in error["exception"]


async def test_a_500_is_in_chinese_when_asked(sample):
    r = await sample.get("/failures/unhandled", headers={"accept-language": "zh-CN"})
    body = assert_problem(r, 500, "internal_error")
    assert body["title"] == CATALOGUE["internal_error"].title_zh
    assert body["request_id"] in body["detail"]


@pytest.mark.parametrize(
    "accept_language, lang",
    [
        (None, "en"),
        ("en-GB,en;q=0.9", "en"),
        ("zh", "zh"),
        ("zh-CN", "zh"),
        ("zh-Hans-CN, zh;q=0.9", "zh"),
        ("en;q=0.5, zh;q=0.9", "zh"),
        ("zh;q=0.2, en", "en"),
        ("fr-FR, zh;q=0.8", "zh"),
        ("fr-FR", "en"),
        ("*", "en"),
        ("zh;q=abc", "en"),
        ("zh;q=0, en;q=0.1", "en"),
        ("zh;q=0", "en"),
    ],
)
async def test_accept_language_picks_english_or_chinese(sample, accept_language, lang):
    headers = {"accept-language": accept_language} if accept_language else {}
    r = await sample.get("/nowhere", headers=headers)
    body = assert_problem(r, 404, "not_found")
    e = CATALOGUE["not_found"]
    expected_title, template = (e.title_zh, e.zh) if lang == "zh" else (e.title_en, e.en)
    assert body["title"] == expected_title
    assert body["detail"] == template.format(path="/nowhere")


async def test_field_errors_are_explained_in_chinese_too(sample):
    r = await sample.post("/widgets", json={}, headers={"accept-language": "zh"})
    body = assert_problem(r, 422, "validation_failed")
    assert body["detail"] == CATALOGUE["validation_failed"].zh.format(count=3)
    assert body["code"] == "validation_failed"  # the code never changes with the language


async def test_problems_answered_by_the_middleware_follow_the_language_too(service):
    r = await service.post("/healthz", content=b"x", headers={"content-type": "text/plain", "accept-language": "zh-TW"})
    body = assert_problem(r, 415, "unsupported_media_type")
    assert body["title"] == CATALOGUE["unsupported_media_type"].title_zh


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_code_reads_in_both_languages_with_the_same_placeholders(code):
    e = CATALOGUE[code]
    assert re.fullmatch(r"[a-z][a-z0-9_]*", code)
    assert 400 <= e.status <= 599
    for text in (e.en, e.zh, e.title_en, e.title_zh):
        assert text.strip()
    assert CJK.search(e.title_zh), f"{code}: Chinese title has no Chinese"
    assert not CJK.search(e.en + e.title_en), f"{code}: English text has Chinese in it"
    assert _placeholders(e.en) == _placeholders(e.zh), code
    assert _placeholders(e.title_en) == _placeholders(e.title_zh) == set(), code


def test_language_negotiation_reads_q_values():
    assert language(None) == "en"
    assert language("") == "en"
    assert language("zh-cn;q=0.4,en-us;q=0.3") == "zh"
    assert language("EN;q=0.4, ZH-HK;q=0.41") == "zh"
