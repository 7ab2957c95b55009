"""API documentation pages that work with no internet: Swagger UI 5 from the fastapi-offline package
(installed from the registry with the hub), served by each dialect beside its own `openapi.json`. FastAPI's
default page loads Swagger UI from a CDN and was blank at a field station with no connection.

Every URL on the page is relative (`docs-assets/...`, `openapi.json`): it works under the dialect's mount
and behind a reverse proxy that serves the hub under a prefix. Swagger UI's online validator badge is off
(it would call validator.swagger.io)."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS = "docs-assets"
SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"
"""Swagger UI 5, which reads OpenAPI 3.1 (what FastAPI writes). swagger-ui-bundle's Swagger UI 4 answered
every page with "Unable to render this definition", which only a real browser showed."""


def install(app: FastAPI) -> None:
    """`GET /docs` and its assets on a dialect's app (made with `docs_url=None`)."""
    app.mount(f"/{ASSETS}", StaticFiles(directory=SWAGGER_UI), name="docs-assets")
    title = f"{app.title}: API documentation"
    openapi = (app.openapi_url or "/openapi.json").lstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi,
            title=title,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None, "deepLinking": True},
        )
