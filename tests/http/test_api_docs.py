"""Each dialect's API documentation page works with no internet: every asset it names is on the hub
(relative URLs, served from the fastapi-offline package) and nothing points at another host."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Harness


@pytest.mark.parametrize("mount", ["/awt/v2", "/astrocast/v1", "/instathings"])
def test_the_docs_page_names_only_the_hubs_own_assets(harness: Harness, mount: str) -> None:
    page = harness.client.get(f"{mount}/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ['"]([^'"]+)['"]""", html)
    named = [a or b for a, b in urls]
    assert "openapi.json" in named and "docs-assets/swagger-ui-bundle.js" in named
    assert not [url for url in named if "//" in url], named  # nothing absolute, nothing on another host
    assert "http://" not in html and "https://" not in html
    assert '"validatorUrl": null' in html  # no call to validator.swagger.io
    for url in named:
        asset = harness.client.get(f"{mount}/{url}")
        assert asset.status_code == 200, url
    assert "SwaggerUIBundle" in harness.client.get(f"{mount}/docs-assets/swagger-ui-bundle.js").text
