"""The metrics port's listener: prometheus-client's WSGI app behind a bounded, deadlined server.

``prometheus_client.start_http_server`` answers on a thread per connection with no timeout:
a client that opens connections and never finishes a request holds a thread each, for ever.
This listener serves the same app (``prometheus_client.make_wsgi_app``) on the same stdlib
server, with two bounds:

- every connection has a **deadline** (``CONNECTION_DEADLINE`` seconds from accept to the last
  byte of the answer; a scrape takes milliseconds): past it the socket is shut down, whatever
  the client is doing;
- at most ``MAX_CONNECTIONS`` connections are served at once; one more is closed at accept.

One request per connection (HTTP/1.0, as wsgiref answers); nothing logged per request.
Where it listens: ``GENROPY_METRICS_BIND`` (``metrics_bind``), else where the web server listens.
"""

from __future__ import annotations

import socket
import threading
import time
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

CONNECTION_DEADLINE = 10.0
MAX_CONNECTIONS = 16
REAP_INTERVAL = 0.25
BIND_VARIABLE = "GENROPY_METRICS_BIND"


class _DeadlinedHandler(WSGIRequestHandler):
    """One request, within ``CONNECTION_DEADLINE`` seconds of the accept (the server's reaper
    shuts the socket down past it); silent."""

    timeout = CONNECTION_DEADLINE  # each read too (socketserver applies it to the socket)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        """Nothing per request: scrapes every 15 s would drown the logs."""


class _BoundedServer(ThreadingMixIn, WSGIServer):
    """A thread per connection, at most ``MAX_CONNECTIONS`` at once, each cut at its deadline
    by one reaper thread."""

    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._deadlines: dict[Any, float] = {}
        self._deadlines_lock = threading.Lock()
        super().__init__(*args, **kwargs)
        threading.Thread(target=self._reap, name="metrics-deadlines", daemon=True).start()

    def _reap(self) -> None:
        while self.socket.fileno() != -1:
            now = time.monotonic()
            with self._deadlines_lock:
                expired = [request for request, deadline in self._deadlines.items() if deadline <= now]
            for request in expired:
                try:
                    request.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            time.sleep(REAP_INTERVAL)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        with self._deadlines_lock:
            self._deadlines[request] = time.monotonic() + CONNECTION_DEADLINE
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release(request)

    def _release(self, request: Any) -> None:
        with self._deadlines_lock:
            self._deadlines.pop(request, None)
        self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away or ran out of time: nothing to report."""


def serve_metrics(host: str, port: int, registry: Any = None) -> WSGIServer:
    """Serve ``registry`` (default: the process's) at ``http://host:port/metrics`` from a
    daemon thread; returns the server (``shutdown()`` stops it). ``OSError`` if the port
    cannot be bound."""
    from prometheus_client import REGISTRY, make_wsgi_app

    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    server_class = type("MetricsServer", (_BoundedServer,), {"address_family": family})
    server = make_server(address[0], port, make_wsgi_app(registry or REGISTRY), server_class,
                         handler_class=_DeadlinedHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
