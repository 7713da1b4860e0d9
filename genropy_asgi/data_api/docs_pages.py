"""Swagger UI and ReDoc for the bridge's OpenAPI document, from files shipped in this package.

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
<html><head><meta charset="utf-8"/><title>{title}</title>
<link rel="stylesheet" href="{base}/static/swagger-ui.css"/></head>
<body><div id="swagger-ui"></div>
<script src="{base}/static/swagger-ui-bundle.js"></script>
<script src="{base}/static/swagger-init.js"></script>
</body></html>
"""
REDOC_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"/><title>{title}</title></head>
<body><div id="redoc"></div>
<script src="{base}/static/redoc.standalone.js"></script>
<script src="{base}/static/redoc-init.js"></script>
</body></html>
"""
# the pages' own scripts are files too, so a strict Content-Security-Policy (no inline script) holds
SWAGGER_INIT = """window.ui = SwaggerUIBundle({
  url: document.currentScript.src.replace(/static\\/swagger-init\\.js$/, "openapi.json"),
  dom_id: "#swagger-ui", deepLinking: true, withCredentials: true});
"""
REDOC_INIT = """Redoc.init(document.currentScript.src.replace(/static\\/redoc-init\\.js$/, "openapi.json"), {},
  document.getElementById("redoc"));
"""
INIT_SCRIPTS = {"swagger-init.js": SWAGGER_INIT, "redoc-init.js": REDOC_INIT}
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                           "script-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'")


def page(kind: str, base: str, title: str) -> str:
    template = SWAGGER_PAGE if kind == "swagger" else REDOC_PAGE
    return template.format(base=html.escape(base, quote=True), title=html.escape(title))


@cache
def asset(name: str) -> tuple[bytes, str] | None:
    """``(content, content type)`` of a shipped file; ``None`` for any other name."""
    if name in INIT_SCRIPTS:
        return INIT_SCRIPTS[name].encode(), ASSETS["swagger-ui-bundle.js"]
    if name not in ASSETS:
        return None
    return files("genropy_asgi.data_api").joinpath("static", name).read_bytes(), ASSETS[name]
