"""API documentation pages that work with no internet: Swagger UI from the swagger-ui-bundle package
(installed from the registry with the hub), served by each dialect beside its own `openapi.json`. FastAPI's
default page loads Swagger UI from a CDN and was blank at a field station with no connection.

Every URL on the page is relative (`docs-assets/...`, `openapi.json`): it works under the dialect's mount
and behind a reverse proxy that serves the hub under a prefix. Swagger UI's online validator badge is off
(it would call validator.swagger.io)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "docs-assets"


def install(app: FastAPI) -> None:
    """`GET /docs` and its assets on a dialect's app (made with `docs_url=None`)."""
    app.mount(f"/{ASSETS}", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
    title = f"{app.title}: API documentation"
    openapi = (app.openapi_url or "/openapi.json").lstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi,
            title=title,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None, "deepLinking": True},
        )
