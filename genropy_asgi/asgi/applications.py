"""What ``GenropyAsgiServer.mount`` wraps an app in: a routing class becomes genro-asgi's
``OpenApiApplication`` (plus ``docs: redoc``), a plain ASGI callable is mounted as is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genro_asgi import BaseApplication, OpenApiApplication

from genropy_asgi.compat import upstream

REDOC_PAGE = """<!DOCTYPE html>
<html><head><title>{title}</title><meta charset="utf-8"/></head>
<body><redoc spec-url="{schema_url}"></redoc>
<script src="https://cdn.redoc.ly/redoc/latest/bundles/redoc.standalone.js"></script>
</body></html>
"""


class ApiApplication(OpenApiApplication):
    """genro-asgi's ``OpenApiApplication`` plus ``docs: redoc`` (ReDoc on ``_meta/docs``)."""

    def __init__(self, **kwargs: Any) -> None:
        docs = kwargs.pop("docs", "swagger")
        super().__init__(docs="swagger" if docs == "redoc" else docs, **kwargs)
        upstream.set_docs_style(self, docs)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.docs_style == "redoc" and scope["path"].rstrip("/") == "/_meta/docs":
            from genro_asgi import Response

            schema_url = f"/{self.mount}/_meta/schema_json" if self.mount else "/_meta/schema_json"
            title = self.api_info.get("title", "API")
            page = REDOC_PAGE.format(title=title, schema_url=schema_url)
            await Response(content=page, media_type="text/html")(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


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
