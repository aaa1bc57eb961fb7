"""/docs and /redoc are served wholly by the gateway and name no other host.

What is checked, and why that is enough: a docs page can reach another host only through
what it loads (the HTML's src/href, the URLs in its inline script, the CSS's url() and
@import) or through what its scripts fetch at run time. The first kind is checked
exhaustively: every absolute URL anywhere in the HTML and CSS fails the test unless it is
on the gateway's host, and every local URL they name must be served by the gateway. The
JavaScript bundles contain many URL strings (licences, JSON Schema ids, RFC links) that
are never fetched, so they are not scanned; instead the one default of Swagger UI that
does fetch from elsewhere (the validator badge, `validatorUrl`) must be set to null in the
page, the OpenAPI document it loads must hold local `$ref`s only (test_openapi.py), and
the page's Content-Security-Policy must confine every kind of load to the gateway itself,
so a browser would refuse anything the bundles still tried.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

ABSOLUTE = re.compile(r"""(?:https?:)?//[^\s"'()<>`,;]+""", re.I)
ATTRIBUTE = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.I)
SCRIPT_PATH = re.compile(r"""['"](/[A-Za-z0-9_./-]+)['"]""")
CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""", re.S)
CSS_IMPORT = re.compile(r"@import\s+([^;]+);")
# XML namespace names inside inline SVG (data: URIs) identify, they are never fetched.
NAMESPACES = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://www.w3.org/1999/xhtml")


def foreign_urls(text: str, own_host: str) -> list[str]:
    found = []
    for m in ABSOLUTE.finditer(text):
        url = m.group(0)
        if url.startswith(NAMESPACES):
            continue
        host = urlsplit(url if "://" in url else "http:" + url).netloc
        if host != own_host:
            found.append(url)
    return found


async def fetch_local(client: httpx.AsyncClient, base: str, ref: str) -> httpx.Response:
    url = urljoin(base, ref)
    assert urlsplit(url).netloc == urlsplit(base).netloc, f"{ref} is not on the gateway"
    r = await client.get(url)
    assert r.status_code == 200, f"{ref} answered {r.status_code}"
    return r


async def check_css(client: httpx.AsyncClient, base: str, css_url: str, host: str) -> None:
    r = await fetch_local(client, base, css_url)
    assert r.headers["content-type"].startswith("text/css")
    css = r.text
    assert CSS_IMPORT.findall(css) == []
    for _, target in CSS_URL.findall(css):
        if target.startswith("data:"):
            continue
        await fetch_local(client, urljoin(base, css_url), target)
    outside_data = re.sub(r"url\(\s*(['\"]?)data:.*?\1\s*\)", "url()", css, flags=re.S)
    # Comments may name a source map; a relative one stays on the gateway.
    assert foreign_urls(outside_data, host) == []


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_page_and_everything_it_loads_come_from_the_gateway(gateway, client, page):
    host = urlsplit(gateway).netloc
    r = await client.get(gateway + page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert foreign_urls(html, host) == []

    local = set(ATTRIBUTE.findall(html)) | set(SCRIPT_PATH.findall(html))
    assert "/openapi.json" in local
    loaded = {}
    for ref in sorted(local):
        assert not ref.startswith("//") and "://" not in ref, ref
        if ref.endswith("oauth2-redirect"):
            continue  # a page a login flow lands on, fetched below
        loaded[ref] = await fetch_local(client, gateway, ref)
    scripts = [ref for ref in local if ref.endswith(".js")]
    assert scripts, "the page loads no script"
    for ref in scripts:
        assert "javascript" in loaded[ref].headers["content-type"]
        assert len(loaded[ref].content) > 100_000, f"{ref} is not the bundle"
    for ref in (x for x in local if x.endswith(".css")):
        await check_css(client, gateway, ref, host)
    assert loaded["/openapi.json"].json()["paths"]


async def test_swagger_ui_has_no_validator_badge(gateway, client):
    html = (await client.get(f"{gateway}/docs")).text
    # Swagger UI's default is https://validator.swagger.io/validator, an image from outside.
    assert re.search(r'"validatorUrl":\s*null', html)


async def test_redoc_loads_no_web_fonts(gateway, client):
    html = (await client.get(f"{gateway}/redoc")).text
    assert "fonts.googleapis" not in html and "<link href=" not in html.replace('<link rel="shortcut icon"', "")


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/docs/oauth2-redirect"])
async def test_the_pages_confine_the_browser_to_the_gateway(gateway, client, page):
    r = await client.get(gateway + page)
    assert r.status_code == 200
    policy = dict(
        (d.split()[0], d.split()[1:]) for d in (x.strip() for x in r.headers["content-security-policy"].split(";")) if d
    )
    assert policy["default-src"] == ["'self'"]
    for directive in ("script-src", "style-src", "img-src", "font-src", "connect-src", "worker-src"):
        sources = policy.get(directive, policy["default-src"])
        assert all(s in ("'self'", "'unsafe-inline'", "data:", "blob:") for s in sources), (directive, sources)


async def test_the_oauth2_redirect_page_is_local(gateway, client):
    r = await client.get(f"{gateway}/docs/oauth2-redirect")
    assert r.status_code == 200
    assert foreign_urls(r.text, urlsplit(gateway).netloc) == []


@pytest.mark.parametrize("name", ["nothing.js", "..%2F..%2Fsettings.py", "%2E%2E%2Fapp.py", "swagger-ui.css.map"])
async def test_only_the_bundled_assets_are_served(gateway, client, name):
    r = await client.get(f"{gateway}/docs/static/{name}")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


def test_the_url_check_catches_outside_urls():
    page = '<link href="https://cdn.jsdelivr.net/x.css"><img src="//evil.example/a.png"><a href="http://gw:1/ok">'
    assert foreign_urls(page, "gw:1") == ["https://cdn.jsdelivr.net/x.css", "//evil.example/a.png"]
