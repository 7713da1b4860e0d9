"""From a ``SiteLaunch`` to the ASGI application: the one place a GenroPy site gets served.

Used three ways, so the site is always built where it will serve (never in a
parent that forks afterwards -- forked workers sharing one gnrdaemon socket fail):

- ``gnrasgiserve`` (one process): ``build_server(launch)`` in the process itself;
- ``gnrasgiserve --reload``: uvicorn's reloader child calls ``create_app()``;
- gunicorn with uvicorn workers: each worker calls ``create_app()`` after the fork
  (``gunicorn -k uvicorn_worker.UvicornWorker 'genropy_asgi.launch.app_factory:create_app()'``).

``create_app()`` reads the ``gnrasgiserve`` arguments from ``GENROPY_ASGI_ARGV``
(a JSON list), so every process resolves the same options the same way.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from genropy_asgi import settings
from genropy_asgi.asgi.metrics import STORAGE_PREFIXES
from genropy_asgi.asgi.request_guard import RequestLimits
from genropy_asgi.asgi.server import GenropyAsgiServer, database_check
from genropy_asgi.asgi.static_files import StaticOptions
from genropy_asgi.asgi.websocket_relay import ASYNC_SERVER_PATHS, async_server_check
from genropy_asgi.compat import register_hosted
from genropy_asgi.cpu_quota import available_workers, server_workers
from genropy_asgi.launch import LaunchError
from genropy_asgi.launch.daemon import daemon_ping
from genropy_asgi.launch.site import SiteLaunch
from genropy_asgi.settings import AUTO_WORKERS

ARGV_VARIABLE = "GENROPY_ASGI_ARGV"

logger = logging.getLogger("genropy_asgi")


def setting(name: str, environ: Any = os.environ) -> Any:
    """A setting's value; unset: ``None`` (then config.yaml's or the server's default applies)."""
    try:
        return settings.read(environ, name, default=None)
    except settings.SettingError as exc:
        raise LaunchError(str(exc)) from None


def check_settings(environ: Any = os.environ) -> None:
    """Every gnrasgiserve setting parsed before anything starts; old names said once."""
    try:
        settings.validate(environ, settings.SERVER)
    except settings.SettingError as exc:
        raise LaunchError(str(exc)) from None
    for line in settings.deprecations(environ):
        logger.warning(line)


def choose_register(environ: Any = os.environ) -> str:
    """``GENROPY_REGISTER`` for this server: ``local`` (the register in this process) with one
    process, else ``pyro`` (gnrdaemon's), unless ``redis`` is asked (Redis or Valkey, any number
    of processes). Written back to ``environ`` so the programs this server starts (``gnr web
    async``, a reloaded child) find the same register."""
    asked = setting("GENROPY_REGISTER", environ)
    workers = server_workers(setting("GENROPY_WORKERS", environ) or AUTO_WORKERS, asked, available_workers())
    chosen = asked or ("local" if workers == 1 else "pyro")
    if chosen == "local" and workers > 1:
        raise LaunchError(f"GENROPY_REGISTER=local keeps the site's register in one process: with "
                          f"GENROPY_WORKERS={workers} set GENROPY_REGISTER=redis or pyro (or GENROPY_WORKERS=1)")
    if chosen == "redis" and not (environ.get("GENROPY_REDIS_URL") or environ.get("GENROPY_REDIS_URL_FILE")):
        raise LaunchError("GENROPY_REGISTER=redis needs GENROPY_REDIS_URL (redis://HOST:6379/0, rediss:// for TLS)")
    environ[register_hosted.VARIABLE] = chosen
    return chosen


def needs_daemon(launch: SiteLaunch, environ: Any = os.environ) -> bool:
    """gnrdaemon is on the way of a request only for its register (``pyro``) or a --remotedb tunnel."""
    return choose_register(environ) == "pyro" or bool(launch.remote_db)


def request_limits(environ: Any = os.environ) -> RequestLimits:
    try:
        return RequestLimits.from_environ(environ)
    except settings.SettingError as exc:
        raise LaunchError(str(exc)) from None


def static_options(environ: Any = os.environ) -> StaticOptions:
    try:
        return StaticOptions.from_environ(environ)
    except settings.SettingError as exc:
        raise LaunchError(str(exc)) from None


def build_server(launch: SiteLaunch, environ: Any = os.environ) -> GenropyAsgiServer:
    """Step 6 (the GenroPy site) and the ASGI server around it, with readiness checks."""
    if choose_register(environ) == "local":
        register_hosted.host_in_this_process()
    from genropy_asgi.compat.register_redis import RegisterUnreachable

    try:
        site = launch.build_site()
    except RegisterUnreachable as exc:
        raise LaunchError(str(exc)) from None
    except Exception as exc:
        if not launch.remote_db:
            raise
        # the gnrdaemon opens the SSH tunnel while GenroPy builds the app: say which
        # remote failed instead of a traceback (and never fall back to another database)
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise LaunchError(f"--remotedb {launch.remote_db}: cannot reach the remote database "
                          f"({type(exc).__name__}: {reason}); check its SSH host, user and password "
                          "and the database settings of remote_db/" + launch.remote_db) from exc
    if register_hosted.hosting():
        _ = site.register  # the register starts now and is announced to the site's other programs
    elif register_hosted.mode(environ) == "redis":
        try:
            _ = site.register  # Redis reached now (GenroPy's site may not have asked yet)
        except RegisterUnreachable as exc:
            raise LaunchError(str(exc)) from None
    server = GenropyAsgiServer(
        host=launch.host,
        port=launch.port,
        wsgi_app=launch.wsgi_app(site),
        gnr_site_name=launch.site_name,
        wsgi_threads=setting("GENROPY_WSGI_THREADS", environ),
        shutdown_timeout=setting("GENROPY_SHUTDOWN_TIMEOUT", environ),
        limits=request_limits(environ),
        static=static_options(environ),
    )
    server.gnr_site = site
    if server.metrics is not None:
        server.metrics.poll_register(site)
    server.site_database = database_in_use(site.db)
    logger.info("database: %s", describe_database(server.site_database))
    # a shared gnr web async (mode async), else the one whose socket GenroPy's sender knows
    async_address = str(setting("GENROPY_ASYNC_ADDRESS", environ) or site.wsk.socket_path) if launch.websockets else None
    server.async_address = async_address
    address = launch.daemon_address
    server.add_ready_check("site built", lambda: server.wsgi_app is not None)
    if needs_daemon(launch, environ):
        server.add_ready_check("gnrdaemon reachable", lambda: daemon_ping(address))
    else:
        server.add_ready_check("site register", lambda: site.register.counters())
    server.add_ready_check("database answers", database_check(site.db))
    if async_address is not None:
        server.add_ready_check("gnr web async accepts", async_server_check(async_address))
    mount_data_api(server, site, environ)
    return server


def mount_data_api(server: GenropyAsgiServer, site: Any, environ: Any = os.environ) -> None:
    """``GENROPY_DATA_API=read|write``: the data bridge over the site's own database, on its prefix."""
    def value(name: str) -> Any:  # the declared default when unset
        try:
            return settings.read(environ, name)
        except settings.SettingError as exc:
            raise LaunchError(str(exc)) from None

    mode = value("GENROPY_DATA_API")
    if mode not in ("read", "write"):
        return
    from genropy_asgi.data_api.application import DataApplication

    mount = value("GENROPY_DATA_API_MOUNT")
    taken = mount_taken(mount, server, site)
    if taken:
        raise LaunchError(f"GENROPY_DATA_API_MOUNT={mount}: /{mount}/ is already {taken}; choose another prefix")
    server.mount(mount, DataApplication(
        lambda: site.gnrapp, max_rows=value("GENROPY_DATA_API_MAX_ROWS"),
        threads=value("GENROPY_DATA_API_THREADS"), origins=server.ws_limits, writes=mode == "write",
        site_provider=lambda: site,
        title=f"{site.site_name} data" if getattr(site, "site_name", None) else "GenroPy data"))
    logger.info("data API: %s, on /%s/ (OpenAPI: /%s/openapi.json, MCP: /%s/mcp)", mode, mount, mount, mount)


DISPATCHER_PATHS = frozenset({"_ping", "_pwa_manifest.json", "_beacon", "_api", "_tools", "favicon.ico"})
"""First path segments GenroPy 26.10's dispatcher answers itself (``GnrWsgiSite.dispatcher``)."""


def mount_taken(mount: str, server: GenropyAsgiServer, site: Any) -> str | None:
    """What already answers under ``/<mount>/`` (a mount would hide it), or ``None``."""
    if any(application.mount == mount for application in server.applications.values()):
        return "one of the server's applications"
    if mount in STORAGE_PREFIXES or mount.startswith("_tools") or mount in DISPATCHER_PATHS:
        return "one of GenroPy's own paths"
    if mount in ASYNC_SERVER_PATHS:
        return "GenroPy's websocket channel"
    app = getattr(site, "gnrapp", None)
    packages = getattr(app, "packages", None) or {}
    if mount in packages:
        return f"the pages of the site's package {mount!r}"
    for folder in site_page_folders(site):
        if os.path.exists(os.path.join(folder, f"{mount}.py")) or os.path.isdir(os.path.join(folder, mount)):
            return f"a page of the site ({os.path.join(folder, mount)})"
    return None


def site_page_folders(site: Any) -> list[str]:
    """Where GenroPy finds the pages of the site's root: the site's ``webpages`` and its main
    package's."""
    folders = [str(site.pages_dir)] if getattr(site, "pages_dir", None) else []
    try:
        main = site.gnrapp.packages[site.mainpackage]
        folders.append(os.path.join(main.packageFolder, "webpages"))
    except (AttributeError, KeyError, TypeError):
        pass
    return folders


def database_in_use(db: Any) -> dict[str, str | None]:
    """What the site's database really is (never its password): for /_server and the start line."""
    def attribute(name: str) -> str | None:
        value = getattr(db, name, None)
        return str(value) if value not in (None, "") else None

    found = {name: attribute(name) for name in ("implementation", "host", "port", "dbname")}
    if found["implementation"] == "sqlite":
        found["host"] = found["port"] = None
    return found


def describe_database(found: dict[str, str | None]) -> str:
    where = f" on {found['host']}:{found['port'] or 5432}" if found.get("host") else ""
    return f"{found.get('implementation')} {found.get('dbname')}{where}"


def argv_from_environ(environ: Any = os.environ) -> list[str]:
    raw = environ.get(ARGV_VARIABLE)
    if raw is None:
        raise LaunchError(f"{ARGV_VARIABLE} is not set: it must hold the gnrasgiserve arguments "
                          'as a JSON list, e.g. ["mysite", "--nodebug"]')
    try:
        argv = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise LaunchError(f"{ARGV_VARIABLE} is not valid JSON: {exc.msg}") from exc
    if not isinstance(argv, list) or not all(isinstance(item, str) for item in argv):
        raise LaunchError(f"{ARGV_VARIABLE} must be a JSON list of strings, got {raw!r}")
    return argv


def create_app() -> GenropyAsgiServer:
    """Factory for uvicorn's reloader child and gunicorn workers.

    A launch problem is the same one line as ``gnrasgiserve``'s, then exit 1 (a
    traceback from inside uvicorn or gunicorn would bury it).
    """
    from genropy_asgi.logs import configure_own_logger

    configure_own_logger()  # a gunicorn worker or the reloader's child: the same lines as gnrasgiserve
    try:
        launch = SiteLaunch(argv_from_environ())
        if needs_daemon(launch):
            launch.wait_for_daemon(setting("GENROPY_DAEMON_WAIT") or 0)
        return build_server(launch)
    except LaunchError as exc:
        print(f"gnrasgiserve: error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
