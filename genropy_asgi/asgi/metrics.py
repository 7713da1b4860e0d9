"""Prometheus metrics of a serving process (``prometheus-client``), never on the public port.

What a process records (``RequestMetrics``, around every request: ``observe.RequestObserver``):

- ``genropy_http_requests_total{kind,status}`` and ``genropy_http_request_duration_seconds
  {kind,status}`` (a histogram; ``kind``: ``page``, ``rpc``, ``static``, ``websocket``,
  ``asgi`` (a mounted app), ``server`` (``/_server``), from ``request_kind``);
- ``genropy_http_requests_in_flight{kind}``;
- ``genropy_site_pages``, ``genropy_site_connections``, ``genropy_site_users``: GenroPy's
  register (gnrdaemon) counted every ``REGISTER_POLL`` seconds by a background thread;
- ``genropy_build_info{version,revision,genropy,genro_asgi,python}`` = 1.

Where they are served: with ``PROMETHEUS_MULTIPROC_DIR`` set (the image: gunicorn workers
and the single server alike) each process writes its samples there and the container's
``metrics`` program (``genropy_asgi.container.metrics``) serves their sum on
``GENROPY_METRICS_PORT`` with each program's CPU, memory and restarts; without it
(``gnrasgiserve`` on its own) the process serves them itself on that port
(``serve_in_process``). ``GENROPY_METRICS_PORT=0`` turns metrics off.
"""

from __future__ import annotations

import logging
import os
import platform
import threading
import time
from typing import Any

from genropy_asgi import settings

logger = logging.getLogger("genropy_asgi.asgi.metrics")

PORT_VARIABLE = "GENROPY_METRICS_PORT"
MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
REGISTER_POLL = 15.0
KINDS = ("page", "rpc", "static", "websocket", "asgi", "server")
STORAGE_PREFIXES = ("_site", "_dojo", "_gnr", "_conn", "_rsrc", "_pkg", "_user", "_vol", "_pages",
                           "_page", "_cordova_asset", "_xvol", "_storage")
"""GenroPy 26.10's storage types (``STATIC_HANDLER_TYPES`` + ``STORAGE_TYPES``), when no site says its own."""


def request_kind(scope: dict, asgi_prefixes: frozenset[str], static_prefixes: tuple[str, ...]) -> str:
    """Which kind of request ``scope`` is (a label of the request metrics)."""
    if scope["type"] == "websocket":
        return "websocket"
    segment = scope["path"].lstrip("/").partition("/")[0]
    if segment == "_server":
        return "server"
    if segment in asgi_prefixes:
        return "asgi"
    if segment.startswith(static_prefixes) and ":" not in segment:
        return "static"
    return "rpc" if scope.get("method") == "POST" or segment == "_ping" else "page"


def metrics_port(environ: Any = os.environ) -> int:
    return settings.read(environ, PORT_VARIABLE)


class RequestMetrics:
    """The request and site metrics of one process (the default registry, or the multiprocess files)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter("genropy_http_requests", "HTTP requests and websockets answered, by kind and "
                                "status", ("kind", "status"))
        self.duration = Histogram("genropy_http_request_duration_seconds", "Time from the request to the end of "
                                  "its answer (a websocket: its whole life), by kind and status", ("kind", "status"))
        self.in_flight = Gauge("genropy_http_requests_in_flight", "Requests being answered, by kind", ("kind",),
                               multiprocess_mode="livesum")
        self.site = {name: Gauge(f"genropy_site_{name}", f"GenroPy's {name} in gnrdaemon's register",
                                 multiprocess_mode="mostrecent") for name in ("pages", "connections", "users")}
        build = Gauge("genropy_build_info", "Versions of this build (always 1)",
                      ("version", "revision", "genropy", "genro_asgi", "python"), multiprocess_mode="max")
        build.labels(**build_labels()).set(1)
        # the labelled children, looked up once (``labels()`` was most of the metrics' per-request
        # cost); kinds are KINDS and statuses three digits: both sets are small and bounded
        self._in_flight = {kind: self.in_flight.labels(kind) for kind in KINDS}  # every series from the start
        self._answered: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._poller: threading.Thread | None = None

    def _in_flight_of(self, kind: str) -> Any:
        child = self._in_flight.get(kind)
        if child is None:
            child = self._in_flight[kind] = self.in_flight.labels(kind)
        return child

    def started(self, kind: str) -> None:
        self._in_flight_of(kind).inc()

    def finished(self, kind: str, status: str, seconds: float) -> None:
        self._in_flight_of(kind).dec()
        children = self._answered.get((kind, status))
        if children is None:
            children = self._answered[(kind, status)] = (self.requests.labels(kind, status),
                                                         self.duration.labels(kind, status))
        children[0].inc()
        children[1].observe(seconds)

    def poll_register(self, site: Any, every: float = REGISTER_POLL) -> None:
        """Count GenroPy's register in a background thread, every ``every`` seconds."""
        if self._poller is not None or site is None:
            return

        def poll() -> None:
            while True:
                try:
                    counts = site.register.counters()
                    for name, gauge in self.site.items():
                        gauge.set(counts.get(name, 0))
                except Exception as exc:  # gnrdaemon restarting: the next round counts again
                    logger.debug("register counters: %s: %s", type(exc).__name__, exc)
                time.sleep(every)

        self._poller = threading.Thread(target=poll, name="genropy-register-metrics", daemon=True)
        self._poller.start()


def build_labels() -> dict[str, str]:
    from genropy_asgi.asgi.meta import distribution_versions

    found = distribution_versions()
    return {"version": found.get("genropy-asgi-gateway") or "unknown",
            "revision": os.environ.get("GENROPY_REVISION") or "unknown",
            "genropy": found.get("genropy") or "unknown", "genro_asgi": found.get("genro-asgi") or "unknown",
            "python": platform.python_version()}


_metrics: RequestMetrics | None = None
_lock = threading.Lock()


def process_metrics() -> RequestMetrics:
    """The process's one ``RequestMetrics`` (metrics are process-wide: registered once)."""
    global _metrics
    with _lock:
        if _metrics is None:
            _metrics = RequestMetrics()
        return _metrics


class MetricsPortTaken(OSError):
    """``GENROPY_METRICS_PORT`` was asked for and cannot be bound; ``str()`` is the line to show."""


def serve_in_process(host: str, port: int, environ: Any = os.environ) -> str | None:
    """Serve this process's metrics on ``host:port`` (a thread; ``GENROPY_METRICS_BIND``, when
    set, replaces ``host``: the web server's), unless a multiprocess directory says another
    program serves them. Returns the address it listens on, or ``None``.

    A port that is taken: with ``GENROPY_METRICS_PORT`` set, ``MetricsPortTaken``; left at its
    default (a second gnrasgiserve on the same machine), a warning and no metrics endpoint.
    """
    if not port or environ.get(MULTIPROC_VARIABLE):
        return None
    from genropy_asgi.asgi.metrics_listener import BIND_VARIABLE, serve_metrics

    host = settings.read(environ, BIND_VARIABLE) or host
    try:
        serve_metrics(host, port)
    except OSError as exc:
        line = f"{PORT_VARIABLE}={port}: cannot listen on {host}:{port} ({exc.strerror or exc})"
        if (environ.get(PORT_VARIABLE) or "").strip():
            raise MetricsPortTaken(f"{line}: choose another port, or 0 for no metrics") from None
        logger.warning("%s: metrics not served (set %s to another port, or 0)", line, PORT_VARIABLE)
        return None
    return host
