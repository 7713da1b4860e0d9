"""Swagger UI and ReDoc, from files shipped in this package: the data bridge's and every mounted
API's (``asgi.applications.ApiApplication``) docs pages.

The bundles are vendored (``static/VENDORED.md``: source, licences, SHA-256;
``scripts/vendor-docs-assets`` refreshes them): an air-gapped site shows its docs. Only the
names in ``ASSETS`` are served -- no path from a request ever reaches the file system.
"""

from __future__ import annotations

import html
from functools import cache
from importlib.resources import files

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
}

SWAGGER_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"/><title>{title}</title><link rel="icon" href="data:,"/>
<link rel="stylesheet" href="{base}/swagger-ui.css"/></head>
<body><div id="swagger-ui"></div>
<script src="{base}/swagger-ui-bundle.js"></script>
<script src="{base}/swagger-init.js" data-spec-url="{spec}"></script>
</body></html>
"""
REDOC_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"/><title>{title}</title><link rel="icon" href="data:,"/></head>
<body><div id="redoc"></div>
<script src="{base}/redoc.standalone.js"></script>
<script src="{base}/redoc-init.js" data-spec-url="{spec}"></script>
</body></html>
"""
# the pages' own scripts are files too, so a strict Content-Security-Policy (no inline script) holds
SWAGGER_INIT = """window.ui = SwaggerUIBundle({url: document.currentScript.dataset.specUrl,
  dom_id: "#swagger-ui", deepLinking: true, withCredentials: true});
"""
REDOC_INIT = """Redoc.init(document.currentScript.dataset.specUrl, {}, document.getElementById("redoc"));
"""
INIT_SCRIPTS = {"swagger-init.js": SWAGGER_INIT, "redoc-init.js": REDOC_INIT}
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                           "script-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'")


def page(kind: str, assets: str, spec_url: str, title: str) -> str:
    """The ``swagger`` or ``redoc`` page for the document at ``spec_url``; ``ASSETS`` under ``assets``."""
    template = SWAGGER_PAGE if kind == "swagger" else REDOC_PAGE
    return template.format(base=html.escape(assets, quote=True), spec=html.escape(spec_url, quote=True),
                           title=html.escape(title))


def asset(name: str) -> tuple[bytes, str] | None:
    """``(content, content type)`` of a shipped file; ``None`` for any other name (never cached:
    only the known names reach the cache)."""
    if name in INIT_SCRIPTS:
        return INIT_SCRIPTS[name].encode(), ASSETS["swagger-ui-bundle.js"]
    if name not in ASSETS:
        return None
    return shipped(name), ASSETS[name]


@cache
def shipped(name: str) -> bytes:
    return files("genropy_asgi.data_api").joinpath("static", name).read_bytes()
