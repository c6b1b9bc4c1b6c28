"""API docs that work with no internet: Swagger UI and ReDoc served from an installed package.

FastAPI's own /docs and /redoc pages load their scripts, styles, favicon and (ReDoc) fonts from
CDNs, so on a machine without internet they stay blank. The same pages here point at copies the
``fastapi-offline`` package installs; nothing of that package but its static files is used.
The document itself is ``/openapi.json``, built once by interfaces/http/openapi.py.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import FileResponse, HTMLResponse, Response

from interfaces.http.operations import Operation, public
from interfaces.http.problems import HttpProblem
from interfaces.http.rendering import JsonResponse

OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
ASSETS_PATH = "/docs-assets"
_ASSETS = Path(str(files("fastapi_offline") / "static"))
# The only files served: a closed list, so no path a client makes up can reach anything else.
_ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}

# The pages may load nothing from anywhere but this service: ReDoc's bundle, for one, would fetch
# a logo from cdn.redoc.ly. Inline scripts and styles are how both pages start and style themselves;
# ReDoc searches in a worker it makes from a blob.
_ONLY_THIS_ORIGIN = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'"
}

router = APIRouter(include_in_schema=False, route_class=Operation)


@router.get(OPENAPI_PATH)
@public
async def openapi_document(request: Request) -> Response:
    return JsonResponse(request.app.openapi())


@router.get(DOCS_PATH)
@public
async def swagger_ui(request: Request) -> HTMLResponse:
    # Under the root path the page's own links are too (interfaces/http/root_path.py).
    root = request.scope.get("root_path", "")
    page = get_swagger_ui_html(
        openapi_url=f"{root}{OPENAPI_PATH}",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
    )
    page.headers.update(_ONLY_THIS_ORIGIN)
    return page


@router.get(REDOC_PATH)
@public
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = get_redoc_html(
        openapi_url=f"{root}{OPENAPI_PATH}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
        with_google_fonts=False,
    )
    page.headers.update(_ONLY_THIS_ORIGIN)
    return page


@router.get(ASSETS_PATH + "/{name}")
@public
async def docs_asset(name: str, request: Request) -> FileResponse:
    media_type = _ASSET_TYPES.get(name)
    if media_type is None:
        raise HttpProblem(404, "not-found", f"no resource at {request.scope['path']}")
    return FileResponse(_ASSETS / name, media_type=media_type)
