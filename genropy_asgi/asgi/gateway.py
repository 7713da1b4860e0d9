"""WsgiGatewayMiddleware: one port, two worlds.

For each HTTP request the gateway looks at the first path segment. When it names
an application mounted on the server (REST, MCP, ``_server``, a ``GenropyProxy``...)
the request continues down genro-asgi's chain to the dispatcher. Anything else
goes to the server's ``wsgi_app`` -- the GenroPy site -- through a PEP 3333 bridge.
A WebSocket for GenroPy's real-time channel (``/websocket``, ``/wsproxy``, unless an
application is mounted there) goes to the site's async server (``gnr web async``)
through ``websocket_relay``: pages, RPCs and live updates share one port. genro-asgi
sends websockets around the middleware chain, so the server asks ``async_relay``
for each handshake (``GenropyAsgiServer.on_websocket``).

The bridge is a2wsgi's ``WSGIMiddleware``: it streams the request body to
``wsgi.input`` and the response body to the client with backpressure (a bounded
queue between the WSGI thread and the event loop), calls the iterable's
``close()``, keeps repeated response headers (several ``Set-Cookie``) and runs
the WSGI callable on its own bounded thread pool (``workers``). A WSGI exception
before the response started becomes a 500 answered by the chain's error layer and
a log line; after it started, the connection is closed (the client sees a
truncated body, never a hang).

Until the server's readiness checks (``/_server/ready``: site built, gnrdaemon, database,
async server) have passed once, requests for the GenroPy site get 503 with
``Retry-After`` instead of whatever a half-started process set would answer (GenroPy
500s while its gnrdaemon is still starting); the checks are re-run at most every
``READY_RECHECK`` seconds, shared by the requests waiting meanwhile.

GenroPy's static files (``_dojo``, ``_gnr``, ``_rsrc``...) are answered here, on the event
loop, before the bridge (``static_files``, ``GENROPY_STATIC=native``); whatever it does not
take goes on to GenroPy.

The set of ASGI prefixes is computed once, lazily, on the first request: mount
applications before serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from a2wsgi import WSGIMiddleware
from genro_asgi import BaseMiddleware

from genropy_asgi.asgi.site_sessions import SiteSessions
from genropy_asgi.asgi.static_files import NativeStaticFiles, native_static_files, site_of
from genropy_asgi.asgi.websocket_policy import WebSocketLimits
from genropy_asgi.asgi.websocket_relay import ASYNC_SERVER_PATHS, ConnectionCount, WebSocketRelay
from genropy_asgi.asgi.wsgi_bridge import WsgiBridge

if TYPE_CHECKING:
    from genro_asgi.types import ASGIApp, Receive, Scope, Send

DEFAULT_WSGI_THREADS = 16
"""Default size of the WSGI thread pool (concurrent GenroPy requests per process)."""
READY_RECHECK = 0.5
"""Seconds between two evaluations of the readiness checks while the site is not ready."""
NOT_READY_BODY = b"Service starting: GenroPy's process set is not ready yet\n"
SITE_METRICS_PATH = "/metrics"  # GenroPy's prometheus webtool's alias route (gnr/webtools/prometheus.py)
SITE_METRICS_TOOL = "prometheus"  # ... and its name under /_tools/
NOT_FOUND_BODY = b"Not Found\n"

logger = logging.getLogger("genropy_asgi.asgi.gateway")


def first_segment(path: str) -> str:
    """``/api/x`` -> ``api``; ``/`` -> ``""``."""
    return path.lstrip("/").partition("/")[0]


def site_metrics_route(path: str, static_routes: dict[str, str] | None = None) -> bool:
    """Does GenroPy answer ``path`` with its metrics webtool? GenroPy drops empty segments
    (``//metrics``, ``/metrics/``), takes any first segment starting with ``_tools`` as its
    tools' route (``/_tools/prometheus``, ``/_toolsX/prometheus/x``) and maps each webtool's
    alias URL (``/metrics``) to it."""
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        return False
    if segments[0].startswith("_tools"):
        return len(segments) > 1 and segments[1] == SITE_METRICS_TOOL
    normalised = "/" + "/".join(segments)
    if normalised == SITE_METRICS_PATH:
        return True
    return bool(static_routes) and static_routes.get(normalised) == SITE_METRICS_TOOL


def asgi_prefixes(server: Any) -> frozenset[str]:
    """The first path segments that belong to the ASGI side of ``server``.

    Every application mounted on a prefix counts, whatever its protocol: a
    ``GenropyProxy`` (``app_protocol = "wsgi"``) is reached through the
    dispatcher too, which is what "not intercepted by the gateway" means.
    """
    return frozenset(app.mount for app in server.applications.values() if app.mount)


class WsgiGatewayMiddleware(BaseMiddleware):
    """Route each HTTP request to the ASGI dispatcher or to the GenroPy site.

    Options (genro-asgi middleware options, or the server's ``wsgi_threads``):
    ``workers`` -- the WSGI thread pool size; ``send_queue_size`` -- how many body
    chunks may wait between the WSGI thread and the client (backpressure).
    """

    # After errors (100), logging (200) and cors (300), which wrap both worlds; before
    # genro-asgi's session (400) and auth (450), which belong to the ASGI apps: GenroPy
    # has its own sessions and login, and must not get a genro-asgi session cookie.
    middleware_order = 350
    middleware_default = True

    def __init__(self, app: ASGIApp, server: Any, workers: int | None = None,
                 send_queue_size: int = 10) -> None:
        super().__init__(app, server)
        self._workers = int(workers or getattr(server, "wsgi_threads", None) or DEFAULT_WSGI_THREADS)
        self._send_queue_size = int(send_queue_size)
        self._prefixes: frozenset[str] | None = None
        self._bridge = WsgiBridge(self._workers, self._send_queue_size)
        self._site_ready = False
        self._ready_task: asyncio.Future | None = None
        self._ready_checked_at = 0.0
        self._static: NativeStaticFiles | None = None
        self._static_for: Any = None  # the site the native static server was built for
        self._websockets = ConnectionCount()
        self._sessions: SiteSessions | None = None

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def prefixes(self) -> frozenset[str]:
        """ASGI prefixes, built once on first use."""
        if self._prefixes is None:
            self._prefixes = asgi_prefixes(self.server)
        return self._prefixes

    def bridge(self) -> WSGIMiddleware | None:
        """The a2wsgi bridge around the server's current ``wsgi_app`` (``None`` if none)."""
        wsgi_app = getattr(self.server, "wsgi_app", None)
        return None if wsgi_app is None else self._bridge.around(wsgi_app)

    def static_files(self) -> NativeStaticFiles | None:
        """The native static server of the current site (``None``: GenroPy serves its statics)."""
        site = getattr(self.server, "gnr_site", None) or getattr(self.server, "wsgi_app", None)
        if site is not self._static_for:
            self._static, self._static_for = native_static_files(self.server), site
        return self._static

    def site_static_routes(self) -> dict[str, str] | None:
        """GenroPy's webtools alias routes (URL -> tool name) of the current site."""
        site = getattr(self.server, "gnr_site", None)
        routes = getattr(site, "webtools_static_routes", None)
        return routes if isinstance(routes, dict) else None

    def goes_to_wsgi(self, scope: Scope) -> bool:
        return first_segment(scope["path"]) not in self.prefixes

    def async_relay(self, scope: Scope) -> WebSocketRelay | None:
        """The relay for a WebSocket on GenroPy's async paths (``None``: not one of ours)."""
        segment = first_segment(scope["path"])
        address = getattr(self.server, "async_address", None)
        if segment in ASYNC_SERVER_PATHS and segment not in self.prefixes and address:
            site = site_of(self.server)
            if site is not None and (self._sessions is None or self._sessions.site is not site):
                self._sessions = SiteSessions(site)
            limits = getattr(self.server, "ws_limits", None) or WebSocketLimits()
            return WebSocketRelay(address, limits, self._sessions if site is not None else None, self._websockets)
        return None

    async def site_is_ready(self) -> bool:
        """Have the server's readiness checks passed (once is enough)?"""
        if self._site_ready or getattr(self.server, "ready_once", False):
            self._site_ready = True
            return True
        run_checks = getattr(self.server, "run_ready_checks", None)
        if run_checks is None:
            self._site_ready = True
            return True
        now = time.monotonic()
        if self._ready_task is None or (self._ready_task.done() and now - self._ready_checked_at >= READY_RECHECK):
            self._ready_checked_at = now
            self._ready_task = asyncio.ensure_future(run_checks())
        results = await asyncio.shield(self._ready_task)
        if all(outcome == "ok" for outcome in results.values()):
            self._site_ready = True
        return self._site_ready

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.goes_to_wsgi(scope):
            bridge = self.bridge()
            if bridge is not None:
                # a path decision: the same answer whether or not the site is ready yet
                if not getattr(self.server, "public_metrics", False) and site_metrics_route(
                        scope["path"], self.site_static_routes()):
                    await send({"type": "http.response.start", "status": 404,  # metrics have their own port
                                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                            (b"content-length", str(len(NOT_FOUND_BODY)).encode())]})
                    await send({"type": "http.response.body", "body": NOT_FOUND_BODY})
                    return
                if not await self.site_is_ready():
                    await send({"type": "http.response.start", "status": 503,
                                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"1"),
                                            (b"content-length", str(len(NOT_READY_BODY)).encode())]})
                    await send({"type": "http.response.body", "body": NOT_READY_BODY})
                    return
                static = self.static_files()
                if static is not None and await static.serve(scope, receive, send):
                    return
                await bridge(scope, receive, send)
                return
        await self.app(scope, receive, send)
