"""GenropyProxy: a GenroPy site as a mountable application, on a URL prefix.

``server.mount("legacy", GenropyProxy(site_name="mysite"))`` serves the site under
``/legacy/``: the server's demux strips the prefix, and the proxy hands the site a
PEP 3333 environ with ``SCRIPT_NAME=/legacy`` and ``PATH_INFO`` the rest, through
the same a2wsgi bridge the gateway uses. ``app_protocol = "wsgi"`` marks it for
``/_server/info``; the gateway never intercepts a mounted prefix.

The site is built by GenroPy's own steps (``SiteLaunch``) at server startup, in a
worker thread, unless a ready WSGI callable is given (``wsgi_app=``). GenroPy keeps
one site per process (module global ``GNRSITE``): mount one GenroPy site per
server process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from a2wsgi import WSGIMiddleware
from genro_asgi import BaseApplication
from genro_asgi.lifespan import FatalBootError

from genropy_asgi.asgi.gateway import DEFAULT_WSGI_THREADS
from genropy_asgi.asgi.wsgi_bridge import WsgiBridge

if TYPE_CHECKING:
    from genro_asgi.types import Receive, Scope, Send


class GenropyProxy(BaseApplication):
    """Serve a GenroPy site (or any WSGI callable) under this application's mount."""

    app_protocol = "wsgi"

    def __init__(self, site_name: str | None = None, argv: list[str] | None = None,
                 wsgi_app: Any = None, workers: int = DEFAULT_WSGI_THREADS, **kwargs: Any) -> None:
        if site_name is None and wsgi_app is None:
            raise ValueError("GenropyProxy needs site_name= (a GenroPy site) or wsgi_app=")
        super().__init__(**kwargs)
        self.site_name = site_name
        self.argv = list(argv or [])
        self.launch: Any = None
        self.site: Any = None
        self._wsgi_app = wsgi_app
        self._workers = workers
        self._bridge = WsgiBridge(workers)

    @property
    def wsgi_app(self) -> Any:
        return self._wsgi_app

    def build(self) -> None:
        """Build the GenroPy site with GenroPy's own steps 1-6 (blocking)."""
        if self._wsgi_app is not None:
            return
        from genropy_asgi.launch.site import SiteLaunch

        self.launch = SiteLaunch([self.site_name, *self.argv])
        self.site = self.launch.build_site()
        self._wsgi_app = self.launch.wsgi_app(self.site)

    async def on_startup(self) -> None:
        if self._wsgi_app is None:
            try:
                await self.server.run_sync(self.build)
            except Exception as exc:
                raise FatalBootError(f"GenropyProxy {self.mount!r}: site {self.site_name!r} "
                                     f"did not build: {exc}") from exc

    @property
    def bridge(self) -> WSGIMiddleware:
        if self._wsgi_app is None:
            self.build()
        return self._bridge.around(self._wsgi_app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        prefix = f"/{self.mount}" if self.mount else ""
        sub_scope = dict(scope)
        sub_scope["root_path"] = scope.get("root_path", "") + prefix
        await self.bridge(sub_scope, receive, send)

    @property
    def app_snapshot(self) -> dict[str, Any]:
        return {**super().app_snapshot, "protocol": self.app_protocol, "site": self.site_name}
