"""The ``/_server`` application: info, health and readiness of a running server.

- ``GET /_server/info``   JSON: versions, mounted apps and prefixes, the GenroPy site
  name, database names and the site's database in use (implementation, host, port,
  name), WSGI pool size. Never a secret; the database's host, port and name only to a
  client on loopback (a probe or an operator inside the pod), the implementation to others.
- ``GET /_server/health`` 200 while the process serves (cheap: no I/O).
- ``GET /_server/ready``  200 when every readiness check passes, else 503; the
  body lists each check. The server's checks are callables registered with
  ``server.add_ready_check(name, fn)`` (blocking ones run on the thread pool):
  ``gnrasgiserve`` registers "site built", "site register" (or "gnrdaemon reachable" with
  ``GENROPY_REGISTER=pyro``), "database answers".
  Answered from a result at most ``READY_MAX_AGE`` seconds old (requests meanwhile share
  it): a public endpoint never turns each request into a database query and a Pyro ping.
"""

from __future__ import annotations

import json
import os
import platform
import time
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from genro_asgi import BaseApplication, Response

if TYPE_CHECKING:
    from genro_asgi.types import Receive, Scope, Send

READY_MAX_AGE = 1.0
LOOPBACK_PEERS = ("127.", "::1", "localhost")
DISTRIBUTIONS = ("genropy-asgi-gateway", "genro-asgi", "genro-routes", "genropy", "uvicorn", "a2wsgi")


def distribution_versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in DISTRIBUTIONS:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(content=json.dumps(payload, indent=1, default=str), status_code=status,
                    media_type="application/json",
                    headers={"cache-control": "no-store"})


class ServerMetaApplication(BaseApplication):
    """``/_server/{info,health,ready}`` for a ``GenropyAsgiServer``."""

    code = "_server"
    mount = "_server"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.started = time.time()
        self._ready: tuple[float, Any] | None = None  # (when, the checks' task)

    async def ready_checks(self) -> dict[str, str]:
        """The readiness checks' results, at most ``READY_MAX_AGE`` seconds old."""
        import asyncio

        now = time.monotonic()
        if self._ready is None or (self._ready[1].done() and now - self._ready[0] >= READY_MAX_AGE):
            self._ready = (now, asyncio.ensure_future(self.server.run_ready_checks()))
        return await asyncio.shield(self._ready[1])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = scope["path"].strip("/")
        if scope["method"] not in ("GET", "HEAD"):
            response = json_response({"error": "method not allowed"}, 405)
        elif endpoint == "health":
            response = json_response({"status": "ok"})
        elif endpoint in ("info", ""):
            response = json_response(self.info(from_loopback(scope)))
        elif endpoint == "ready":
            checks = await self.ready_checks()
            ready = all(result == "ok" for result in checks.values())
            response = json_response({"ready": ready, "checks": checks,
                                      "database": shown_database(self.server.site_database, from_loopback(scope))},
                                     200 if ready else 503)
        else:
            response = json_response({"error": f"no /_server/{endpoint}",
                                      "endpoints": ["info", "health", "ready"]}, 404)
        await response(scope, receive, send)

    def info(self, full: bool = True) -> dict[str, Any]:
        server = self.server
        apps = [
            {
                "name": app.code,
                "prefix": f"/{app.mount}" if app.mount else "/",
                "class": type(app).__name__,
                "protocol": getattr(app, "app_protocol", "asgi"),
            }
            for app in server.applications.values()
        ]
        found = {
            "server": type(server).__name__,
            "versions": distribution_versions(),
            "site": server.gnr_site_name,
            "wsgi": {"site": server.wsgi_app is not None, "threads": server.wsgi_threads},
            "apps": apps,
            "asgi_prefixes": sorted(app["prefix"] for app in apps if app["prefix"] != "/"),
            "databases": sorted(server.db_registry) + (["site"] if server.site_database else []),
            "site_database": shown_database(server.site_database, full),
            "ready_checks": server.ready_check_names,
            "uptime_seconds": round(time.time() - self.started, 1),
            "register": os.environ.get("GENROPY_REGISTER") or None,
        }
        if full:  # which process answered: loopback clients only
            found["pid"] = os.getpid()
        return found


def from_loopback(scope: Any) -> bool:
    client = scope.get("client") or ("",)
    return str(client[0]).startswith(LOOPBACK_PEERS)


def shown_database(database: dict[str, Any] | None, full: bool) -> dict[str, Any] | None:
    """The site's database as shown: whole on loopback, its implementation only elsewhere."""
    if database is None or full:
        return database
    return {"implementation": database.get("implementation")}
