"""What ``GenropyAsgiServer.mount`` wraps an app in: a routing class becomes genro-asgi's
``OpenApiApplication`` (plus ``docs: redoc``, both docs pages served from this package), a plain
ASGI callable is mounted as is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genro_asgi import BaseApplication, OpenApiApplication

from genropy_asgi.compat import upstream
from genropy_asgi.data_api import docs_pages

DOCS_PATH = "/_meta/docs"
ASSETS_PATH = "/_meta/static/"


class ApiApplication(OpenApiApplication):
    """genro-asgi's ``OpenApiApplication`` plus ``docs: redoc``; both docs pages (``_meta/docs``)
    load Swagger UI or ReDoc from this package (``_meta/static/``), never from a CDN."""

    def __init__(self, **kwargs: Any) -> None:
        docs = kwargs.pop("docs", "swagger")
        super().__init__(docs="swagger" if docs == "redoc" else docs, **kwargs)
        upstream.set_docs_style(self, docs)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"].rstrip("/")
        if scope["type"] == "http" and self.docs_style in ("swagger", "redoc") and (
                path == DOCS_PATH or path.startswith(ASSETS_PATH)):
            await self._docs(path, scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def _docs(self, path: str, scope: Any, receive: Any, send: Any) -> None:
        from genro_asgi import Response

        base = f"/{self.mount}" if self.mount else ""
        if path == DOCS_PATH:
            page = docs_pages.page(self.docs_style, f"{base}{ASSETS_PATH.rstrip('/')}",
                                   f"{base}/_meta/schema_json", self.api_info.get("title", "API"))
            response = Response(content=page, media_type="text/html",
                                headers={"content-security-policy": docs_pages.CONTENT_SECURITY_POLICY})
        else:
            found = docs_pages.asset(path[len(ASSETS_PATH):])
            response = (Response(content=found[0], media_type=found[1]) if found is not None
                        else Response(content="not found", status_code=404, media_type="text/plain"))
        await response(scope, receive, send)


class AsgiCallableApplication(BaseApplication):
    """Any plain ASGI callable, mounted like an application."""

    def __init__(self, asgi_app: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.asgi_app = asgi_app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.asgi_app(scope, receive, send)

    async def serve_websocket(self, scope: Any, receive: Any, send: Any) -> None:
        """Hand the raw websocket to the callable (genro-asgi's raw seam)."""
        await self.asgi_app(scope, receive, send)
