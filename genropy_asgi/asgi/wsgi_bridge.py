"""The one a2wsgi bridge from ASGI to the GenroPy site (gateway and ``GenropyProxy`` alike).

a2wsgi's ``WSGIMiddleware`` runs the WSGI app on a bounded thread pool and streams
the body both ways. ``WsgiBridge.around(app)`` builds it on first use and again only
when the WSGI app changes (a rebuilt site), so a request never pays for it twice.
"""

from __future__ import annotations

from typing import Any

from a2wsgi import WSGIMiddleware


class WsgiBridge:
    def __init__(self, workers: int | None = None, send_queue_size: int | None = None) -> None:
        self.options = {name: value for name, value in (("workers", workers), ("send_queue_size", send_queue_size))
                        if value is not None}
        self._middleware: WSGIMiddleware | None = None
        self._app: Any = None

    def around(self, wsgi_app: Any) -> WSGIMiddleware:
        if self._middleware is None or self._app is not wsgi_app:
            self._middleware = WSGIMiddleware(wsgi_app, **self.options)
            self._app = wsgi_app
        return self._middleware
