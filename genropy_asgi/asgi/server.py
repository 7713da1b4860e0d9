"""GenropyAsgiServer: genro-asgi's AsgiServer with the design document's API on top.

genro-asgi 0.46 composes a server from a configuration tree and serves it with
``serve()``. This subclass adds what the design document promises, without
changing genro-asgi:

- ``mount(name, app)`` and ``run()``; a GenroPy site as ``wsgi_app`` behind the
  ``WsgiGatewayMiddleware`` (always in the chain, innermost);
- ``GenropyAsgiServer(server_dir=".")``: config.yaml (``config_file``) with
  ``server``, ``databases`` (``genropy_app`` -> ``GnrApp(name).db``), ``middleware``
  and ``apps`` (``module``, ``db_name``, ``docs``);
- ``db_registry`` / ``get_db(name)`` / ``db``, with genro-asgi's own ``request.db``
  resolving an app's ``db_name`` against the same registry;
- the ``/_server`` app (``meta.ServerMetaApplication``) and its readiness checks;
- ``request_guard`` in front of everything (the path rule, the body limits) and the
  strict, deadline-bound HTTP parser of ``http_protocol`` under it.

Apps are mounted before serving: the gateway computes its prefixes once.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from genro_asgi import AsgiServer, BaseApplication, OpenApiApplication
from genro_asgi.db import AsgiDbHandlerBase
from genro_asgi.lifespan import RUNNING
from genro_asgi.server import UvicornServer
from genro_routes import RoutingClass

from genropy_asgi import settings
from genropy_asgi.asgi.applications import ApiApplication, AsgiCallableApplication
from genropy_asgi.asgi.config_file import ConfigFileError, ServerConfig, load_config, resolve_object
from genropy_asgi.asgi.forwarded import ForwardedHeaders
from genropy_asgi.asgi.gateway import DEFAULT_WSGI_THREADS, WsgiGatewayMiddleware
from genropy_asgi.asgi.http_protocol import UVICORN_OPTIONS, configure
from genropy_asgi.asgi.meta import ServerMetaApplication
from genropy_asgi.asgi.metrics import STORAGE_PREFIXES, RequestMetrics, metrics_port, process_metrics, request_kind
from genropy_asgi.asgi.observe import ACCESS_VARIABLE, RequestObserver, uvicorn_logging
from genropy_asgi.asgi.request_guard import RequestLimits, guard_http, path_refusal, scope_raw_path
from genropy_asgi.asgi.static_files import StaticOptions
from genropy_asgi.asgi.websocket_policy import WebSocketLimits
from genropy_asgi.compat import upstream

DEFAULT_HOST = "0.0.0.0"
DEFAULT_PORT = settings.WEB_PORT
DEFAULT_SHUTDOWN_TIMEOUT = 30.0
READY_CHECK_TIMEOUT = 5.0

logger = logging.getLogger("genropy_asgi")

class GenropyAsgiServer(AsgiServer):
    """An ``AsgiServer`` serving a GenroPy site (``wsgi_app``) and ASGI apps on one port."""

    def __init__(self, server_dir: str | os.PathLike[str] | None = None, *,
                 host: str | None = None, port: int | None = None,
                 wsgi_app: Any = None, gnr_site_name: str | None = None,
                 wsgi_threads: int | None = None, max_threads: int | None = None,
                 middleware: dict[str, Any] | None = None,
                 shutdown_timeout: float | None = None, limits: RequestLimits | None = None,
                 static: StaticOptions | None = None, **kwargs: Any) -> None:
        self.limits = limits if limits is not None else RequestLimits.from_environ(os.environ)
        """Body and header limits (default: the ``GENROPY_MAX_*`` variables)."""
        self.forwarded = ForwardedHeaders(self._observed, settings.read(os.environ, "FORWARDED_ALLOW_IPS"))
        """uvicorn's proxy headers for ``FORWARDED_ALLOW_IPS`` peers; other peers' forwarded headers dropped."""
        self.ws_limits = WebSocketLimits.from_environ(os.environ)
        """GenroPy's real-time channel: allowed origins, message size, connection caps (``GENROPY_WS_*``)."""
        self.static = static if static is not None else StaticOptions.from_environ(os.environ)
        """How GenroPy's static files are answered (default: the ``GENROPY_STATIC*`` variables)."""
        self.metrics: RequestMetrics | None = process_metrics() if metrics_port(os.environ) else None
        """Request metrics of this process (``None``: ``GENROPY_METRICS_PORT=0``)."""
        self.observer = RequestObserver(self.metrics, settings.read(os.environ, ACCESS_VARIABLE))
        """Request id, metrics and access line of every request."""
        self._metric_prefixes: tuple[frozenset[str], tuple[str, ...]] | None = None
        self.public_metrics: bool = settings.read(os.environ, "GENROPY_PUBLIC_METRICS")
        """GenroPy's own ``/metrics`` answered on the public port (default: 404 there)."""
        self.server_dir = os.fspath(server_dir) if server_dir is not None else None
        self.file_config: ServerConfig = load_config(server_dir) if server_dir else ServerConfig()
        options = self.file_config.server
        self.wsgi_app = wsgi_app
        self.gnr_site_name = gnr_site_name
        self.site_database: dict[str, Any] | None = None
        """The GenroPy site's database as in use (implementation, host, port, dbname; no password)."""
        self.async_address: str | None = None
        """The site's ``gnr web async`` Unix socket: the gateway relays ``/websocket`` there."""
        self.gnr_site: Any = None
        """The ``GnrWsgiSite`` served, when a launcher built it (native statics, the gateway read it)."""
        self.wsgi_threads = int(wsgi_threads or options.get("wsgi_threads") or DEFAULT_WSGI_THREADS)
        self._ready_checks: list[tuple[str, Callable[[], Any]]] = []
        self.ready_once = False  # every readiness check passed at least once (the gateway gate)
        self.gnr_apps: dict[str, Any] = {}
        switches = {**self.file_config.middleware, **(middleware or {})}
        if "auth" not in kwargs:
            # genro-asgi arms its header authentication by default; with no credentials configured it
            # answers 401 to every Authorization header, so an app doing its own (the data bridge's
            # GenroPy logins and tokens) could never see one. Armed only when asked for.
            switches.setdefault("auth", False)
        try:
            super().__init__(
                host=host or options.get("host") or DEFAULT_HOST,
                port=port if port is not None else options.get("port", DEFAULT_PORT),
                max_threads=max_threads or options.get("max_threads"),
                shutdown_timeout_seconds=float(shutdown_timeout or options.get("shutdown_timeout")
                                               or DEFAULT_SHUTDOWN_TIMEOUT),
                middleware=switches,
                middleware_registry={"wsgi_gateway": WsgiGatewayMiddleware},
                **kwargs,
            )
        except ValueError as exc:
            where = self.file_config.path or "GenropyAsgiServer"
            raise ConfigFileError(f"{where}: middleware: {exc}") from exc
        self.register_application(ServerMetaApplication())
        self._load_configured_databases()
        self._load_configured_apps()

    # -- applications -----------------------------------------------------------
    def mount(self, name: str, app: Any, **app_kwargs: Any) -> BaseApplication:
        """Serve ``app`` under ``/<name>/``; returns the mounted application.

        ``app`` is a genro-asgi application, a ``RoutingClass`` API (served as REST +
        OpenAPI, ``docs=`` swagger|redoc|off) or any plain ASGI callable.
        """
        if not name or "/" in name:
            raise ValueError(f"mount name must be one path segment, got {name!r}")
        taken = {existing.mount for existing in self.applications.values() if existing.mount}
        if name in taken:
            raise ValueError(f"/{name}/ is already served here ({', '.join(f'/{m}/' for m in sorted(taken))} are)")
        application = self._as_application(app, **app_kwargs)
        application.code = name
        application.mount = name
        self.register_application(application)
        return application

    def _as_application(self, app: Any, **app_kwargs: Any) -> BaseApplication:
        if isinstance(app, BaseApplication):
            return app
        if isinstance(app, RoutingClass):
            return ApiApplication(routing_class=app, **app_kwargs)
        if callable(app):
            return AsgiCallableApplication(app)
        raise TypeError(f"cannot mount {app!r}: expected a genro-asgi application, "
                        "a RoutingClass or an ASGI callable")

    def _load_configured_apps(self) -> None:
        where_file = self.file_config.path
        for spec in self.file_config.apps:
            if spec.kind == "genropy-data":
                self.register_application(self._data_application(spec.name, str(spec.db_name), spec.writes))
                continue
            where = f"{where_file}: apps.{spec.name}.module"
            target = resolve_object(str(spec.module), where)
            kwargs: dict[str, Any] = {"code": spec.name, "mount": spec.name}
            if spec.db_name:
                kwargs["db_name"] = spec.db_name
            try:
                if inspect.isclass(target) and issubclass(target, OpenApiApplication):
                    application = target(docs=spec.docs, **kwargs)
                elif inspect.isclass(target) and issubclass(target, BaseApplication):
                    application = target(**kwargs)
                elif inspect.isclass(target) and issubclass(target, RoutingClass):
                    application = ApiApplication(routing_class=target(), docs=spec.docs, **kwargs)
                else:
                    raise ConfigFileError(f"{where}: {spec.module} is not a genro-asgi application "
                                          "nor a RoutingClass")
            except ConfigFileError:
                raise
            except Exception as exc:
                raise ConfigFileError(f"{where}: {spec.module} failed to build: "
                                      f"{type(exc).__name__}: {exc}") from exc
            self.register_application(application)

    def _data_application(self, name: str, db_name: str, writes: bool) -> BaseApplication:
        """config.yaml's ``kind: genropy-data``: the data bridge over a declared database."""
        from genropy_asgi.data_api.application import DataApplication

        gnr_app = self.gnr_apps[db_name]
        return DataApplication(lambda: gnr_app, code=name, mount=name, origins=self.ws_limits,
                               max_rows=settings.read(os.environ, "GENROPY_DATA_API_MAX_ROWS"),
                               threads=settings.read(os.environ, "GENROPY_DATA_API_THREADS"),
                               title=f"{db_name} data", writes=writes)

    # -- databases --------------------------------------------------------------
    @property
    def db_registry(self) -> dict[str, Any]:
        """Named database handlers (``request.db`` reads the same registry)."""
        return self.databases

    def add_database(self, code: str, handler: Any) -> None:
        """Register a database; a bare db object is wrapped in genro-asgi's handler."""
        if not isinstance(handler, AsgiDbHandlerBase):
            handler = AsgiDbHandlerBase(handler)
        super().add_database(code, handler)

    def get_db(self, name: str = "default") -> Any:
        try:
            return self.databases[name]
        except KeyError:
            known = ", ".join(sorted(self.databases)) or "none"
            raise KeyError(f"no database {name!r} in db_registry (known: {known})") from None

    @property
    def db(self) -> Any:
        """Shortcut for ``get_db("default")``."""
        return self.get_db("default")

    def _load_configured_databases(self) -> None:
        for name, instance in self.file_config.databases.items():
            gnr_app = self._build_gnr_app(name, instance)
            self.gnr_apps[name] = gnr_app
            self.add_database(name, gnr_app.db)
            self.add_ready_check(f"database {name}", database_check(gnr_app.db))

    def _build_gnr_app(self, name: str, instance: str) -> Any:
        from gnr.app.gnrapp import GnrApp  # patched: importing genropy_asgi installed the fixes

        try:
            return GnrApp(instance)
        except Exception as exc:
            raise ConfigFileError(f"{self.file_config.path}: databases.{name}.genropy_app: GnrApp("
                                  f"{instance!r}) failed: {type(exc).__name__}: {exc}") from exc

    # -- readiness --------------------------------------------------------------
    def add_ready_check(self, name: str, check: Callable[[], Any]) -> None:
        """``check()`` raises (or returns False) when not ready; blocking checks run on the pool."""
        self._ready_checks.append((name, check))

    @property
    def ready_check_names(self) -> list[str]:
        return [name for name, _ in self._ready_checks]

    async def on_websocket(self, scope: Any, receive: Any, send: Any) -> None:
        """GenroPy's real-time paths to its async server; every other websocket to genro-asgi.

        (Websockets do not cross genro-asgi's middleware chain: the gateway decides here.)
        """
        gateway = self.get_middleware(WsgiGatewayMiddleware)
        relay = gateway.async_relay(scope) if gateway is not None else None
        if relay is not None and self.state == RUNNING:
            await relay(scope, receive, send)
            return
        await super().on_websocket(scope, receive, send)

    async def run_ready_checks(self) -> dict[str, str]:
        results: dict[str, str] = {}
        for name, check in self._ready_checks:
            try:
                if inspect.iscoroutinefunction(check):
                    outcome = await asyncio.wait_for(check(), READY_CHECK_TIMEOUT)
                else:
                    outcome = await asyncio.wait_for(self.run_sync(check), READY_CHECK_TIMEOUT)
                results[name] = "ok" if outcome is not False else "failed"
            except TimeoutError:
                results[name] = f"timed out after {READY_CHECK_TIMEOUT:g}s"
            except Exception as exc:
                results[name] = f"{type(exc).__name__}: {exc}"
        if all(outcome == "ok" for outcome in results.values()):
            if not self.ready_once:
                logger.info("ready: %s%s", ", ".join(results), since_start())
            self.ready_once = True  # the gateway's start gate opens for good (a probe is enough)
        return results

    # -- serving ----------------------------------------------------------------
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Forwarded headers only from trusted proxies; then observed (id, metrics, access line), the
        path rule and the body limits, for every route."""
        await self.forwarded(scope, receive, send)

    async def _observed(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._guarded(scope, receive, send)
            return
        if self._metric_prefixes is None:  # apps are mounted before serving
            from genropy_asgi.asgi.gateway import asgi_prefixes
            from genropy_asgi.asgi.static_files import site_of

            site = site_of(self)
            storage = tuple(getattr(site, "storageTypes", None) or STORAGE_PREFIXES)
            self._metric_prefixes = (asgi_prefixes(self), storage)
        kind = request_kind(scope, *self._metric_prefixes)
        await self.observer(kind, scope, receive, send, self._guarded)

    async def _guarded(self, scope: Any, receive: Any, send: Any) -> None:
        """The path rule and the body limits first, for every route (``request_guard``)."""
        kind = scope["type"]
        if kind == "http":
            await guard_http(scope, receive, send, super().__call__, self.limits)
        elif kind == "websocket" and path_refusal(scope_raw_path(scope)) is not None:
            await send({"type": "websocket.close", "code": 1008})
        else:
            await super().__call__(scope, receive, send)

    def uvicorn_config(self, **overrides: Any) -> uvicorn.Config:
        options: dict[str, Any] = {
            "host": self.config_host or DEFAULT_HOST,
            "port": self.config_port if self.config_port is not None else DEFAULT_PORT,
            "timeout_graceful_shutdown": self.shutdown_timeout_seconds,
            "lifespan": "on",
            "proxy_headers": False,  # self.forwarded decides, with uvicorn's middleware (forwarded.py)
            "ws_max_size": self.ws_limits.max_message_bytes,
            **uvicorn_logging(),
            **UVICORN_OPTIONS,
        }
        options.update(overrides)
        return configure(uvicorn.Config(self, **options), self.limits)

    def run(self, host: str | None = None, port: int | None = None,
            sockets: list[socket.socket] | None = None, **uvicorn_options: Any) -> None:
        """Serve with uvicorn until SIGINT/SIGTERM (in-flight requests are drained)."""
        if host is not None:
            uvicorn_options["host"] = host
        if port is not None:
            uvicorn_options["port"] = port
        server = UvicornServer(self, self.uvicorn_config(**uvicorn_options))
        upstream.set_uvicorn_server(self, server)
        with exit_zero_after_graceful_stop():
            server.run(sockets=sockets)


@contextlib.contextmanager
def exit_zero_after_graceful_stop() -> Iterator[None]:
    """SIGTERM/SIGINT end the process with status 0 once uvicorn has drained.

    uvicorn catches the signal, drains in-flight requests, restores the handlers it
    found and re-raises the signal: the handlers found are these, which exit 0
    (a requested stop is a success for supervisors and orchestrators).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def since_start() -> str:
    """`` (4.2 s after the container started)`` when the entrypoint said when (``GENROPY_STARTED_AT``)."""
    import time

    try:
        started_at = float(os.environ.get("GENROPY_STARTED_AT") or "")
    except ValueError:
        return ""
    return f" ({time.time() - started_at:.1f} s after the container started)"


def database_check(db: Any) -> Callable[[], None]:
    """A readiness check: the database answers ``SELECT 1`` (on the calling thread's connection)."""

    def check() -> None:
        try:
            db.execute("SELECT 1")
        finally:
            db.closeConnection()

    return check
