"""Around every request: its id, its metrics, its access line (``RequestObserver``).

- **Request id**: an incoming ``X-Request-ID`` (1-128 characters of ``A-Za-z0-9._:-``) is
  kept, anything else replaced by a new one; GenroPy sees it (``HTTP_X_REQUEST_ID``), the
  answer carries it, the access line and the JSON records name it.
- **Metrics**: ``metrics.RequestMetrics`` (kind, status, duration, in flight).
- **Access log**: one line per request on the ``genropy_asgi.access`` logger, replacing
  uvicorn's (``GENROPY_ACCESS_LOG``: ``on``, ``off``, or ``all`` with the probes, which
  ``on`` leaves out: ``/_server/health``, ``/_server/ready``, ``/metrics``).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from genropy_asgi.asgi.metrics import RequestMetrics

ACCESS_VARIABLE = "GENROPY_ACCESS_LOG"
REQUEST_ID_HEADER = b"x-request-id"
VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
PROBE_PATHS = frozenset({"/_server/health", "/_server/ready", "/metrics"})
SCOPE_KEY = "genropy.request_id"

access_logger = logging.getLogger("genropy_asgi.access")

Send = Callable[[dict], Awaitable[None]]


def uvicorn_logging() -> dict[str, Any]:
    """uvicorn's logging options for our servers: no access line of its own (ours has the
    request id), JSON records with ``GENROPY_LOG_FORMAT=json``."""
    from genropy_asgi.logs import uvicorn_log_config

    log_config = uvicorn_log_config()
    return {"access_log": False, **({"log_config": log_config} if log_config is not None else {})}


def request_id(headers: list[tuple[bytes, bytes]]) -> tuple[str, bool]:
    """The request's id and whether the client sent it (a malformed one is replaced)."""
    for name, value in headers:
        if name.lower() == REQUEST_ID_HEADER and VALID_REQUEST_ID.fullmatch(value):
            return value.decode("ascii"), True
    return uuid.uuid4().hex, False


def with_header(headers: list, name: bytes, value: bytes) -> list:
    return [*(pair for pair in headers if pair[0].lower() != name), (name, value)]


class RequestObserver:
    """Request id, metrics (``None``: off) and access line (``on``/``off``/``all``) of each request."""

    def __init__(self, metrics: RequestMetrics | None, access: str = "on") -> None:
        self.metrics = metrics
        self.access = access

    def logs(self, path: str) -> bool:
        return self.access == "all" or (self.access == "on" and path not in PROBE_PATHS)

    async def __call__(self, kind: str, scope: dict, receive: Any, send: Send, app: Any) -> None:
        headers = list(scope.get("headers") or ())
        rid, sent_by_client = request_id(headers)
        if not sent_by_client:
            scope["headers"] = with_header(headers, REQUEST_ID_HEADER, rid.encode())
        scope[SCOPE_KEY] = rid
        status = "0"

        async def observed_send(message: dict) -> None:
            nonlocal status
            kind_of = message["type"]
            if kind_of == "http.response.start":
                status = str(message["status"])
                message = {**message, "headers": with_header(list(message.get("headers") or ()),
                                                             REQUEST_ID_HEADER, rid.encode())}
            elif kind_of == "websocket.accept":
                status = "101"
                message = {**message, "headers": with_header(list(message.get("headers") or ()),
                                                             REQUEST_ID_HEADER, rid.encode())}
            elif kind_of == "websocket.close" and status == "0":
                status = "403"  # closed before the handshake: refused
            await send(message)

        started = time.perf_counter()
        if self.metrics is not None:
            self.metrics.started(kind)
        try:
            await app(scope, receive, observed_send)
        except BaseException:
            if status == "0":
                status = "500"
            raise
        finally:
            seconds = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.finished(kind, status, seconds)
            if self.logs(scope["path"]):
                self.log_access(scope, kind, status, seconds, rid)

    @staticmethod
    def log_access(scope: dict, kind: str, status: str, seconds: float, rid: str) -> None:
        client = scope.get("client") or ("-", 0)
        query = scope.get("query_string", b"")
        target = scope["path"] + ("?" + query.decode("latin-1") if query else "")
        method = scope.get("method", "WEBSOCKET")
        access_logger.info('%s:%s "%s %s HTTP/%s" %s %.1fms %s rid=%s', client[0], client[1], method, target,
                           scope.get("http_version", "1.1"), status, seconds * 1000, kind, rid,
                           extra={"request_id": rid,
                                  "fields": {"client": client[0], "method": method, "path": scope["path"],
                                             "status": int(status), "duration_ms": round(seconds * 1000, 1),
                                             "kind": kind}})
