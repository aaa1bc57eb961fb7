"""Interactive API docs (Swagger UI at /docs, ReDoc at /redoc) served wholly by the gateway.

The pages work with no internet: the scripts, styles and icon are the copies shipped in the
`fastapi_offline` wheel, served from /docs/static/, and nothing on the pages names another
host. Swagger UI's one default that would reach out, the online validator badge
(`validatorUrl`, which fetches an image from validator.swagger.io), is switched off, and a
Content-Security-Policy confines the pages to the gateway's own origin, so a browser
refuses anything the bundled scripts might still try to fetch elsewhere. (Checked in headless
Chromium: the one such attempt is ReDoc's footer logo from cdn.redoc.ly, which the policy
blocks; the pages render fully without it.)
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.responses import FileResponse, HTMLResponse

from shared.auth import Public
from shared.problems import ProblemError
from shared.routes import APIRouter

STATIC_DIR = Path(str(files("fastapi_offline") / "static"))
STATIC_PATH = "/docs/static"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
OPENAPI_URL = "/openapi.json"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
TITLE = "Sprout API"

# Only this origin; inline script and style because both UIs put their configuration and
# styles inline; data: images are Swagger UI's icons; blob: workers are ReDoc's search.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'self'; form-action 'self'; base-uri 'self'"
)
SWAGGER_UI_PARAMETERS = {
    # Swagger UI's default is https://validator.swagger.io/validator; null removes the badge.
    "validatorUrl": None,
    "displayOperationId": True,
    "persistAuthorization": True,
}

router = APIRouter(include_in_schema=False)


def _secured(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@router.get("/docs", dependencies=[Public])
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over the combined document."""
    root = request.scope.get("root_path", "")
    return _secured(
        get_swagger_ui_html(
            openapi_url=root + OPENAPI_URL,
            title=TITLE,
            swagger_js_url=f"{root}{STATIC_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_PATH}/favicon.png",
            oauth2_redirect_url=root + OAUTH2_REDIRECT_PATH,
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )
    )


@router.get(OAUTH2_REDIRECT_PATH, dependencies=[Public])
async def swagger_ui_oauth2_redirect() -> HTMLResponse:
    """Where Swagger UI's "Authorize" flow lands."""
    return _secured(get_swagger_ui_oauth2_redirect_html())


@router.get("/redoc", dependencies=[Public])
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc over the combined document."""
    root = request.scope.get("root_path", "")
    return _secured(
        get_redoc_html(
            openapi_url=root + OPENAPI_URL,
            title=TITLE,
            redoc_js_url=f"{root}{STATIC_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_PATH}/favicon.png",
            # Google Fonts is the one outside resource ReDoc's HTML would name.
            with_google_fonts=False,
        )
    )


@router.get(STATIC_PATH + "/{name}", dependencies=[Public])
async def docs_asset(name: str, request: Request) -> FileResponse:
    """One of the bundled docs assets; only those four names, never a path into the disk."""
    media_type = ASSETS.get(name)
    if media_type is None:
        raise ProblemError("not_found", path=request.url.path)
    return FileResponse(
        STATIC_DIR / name,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
