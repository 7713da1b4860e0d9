"""The gunicorn worker of the image's multi-process mode: uvicorn, fairly loaded.

gunicorn's workers share one listening socket. asyncio accepts up to ``backlog``
pending connections each time the socket is ready, so one uvicorn worker can take
every connection of a burst (e.g. all keep-alive connections of a client) while the
others idle: measured with 2 workers, one at 0.0 s of CPU and the other at 7.0 s,
throughput that of a single worker. This worker serves with an accept burst of one
connection, so the workers alternate, then restores the kernel's listen queue to
gunicorn's ``backlog`` (asyncio re-``listen()``s the socket with the burst size).
It parses HTTP with the guarded httptools protocol of ``http_protocol`` (the
``GENROPY_MAX_HEADER_BYTES`` / ``GENROPY_HEADER_TIMEOUT`` limits), as ``gnrasgiserve`` does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from genropy_asgi.asgi.http_protocol import UVICORN_OPTIONS


def websocket_max_size() -> int:
    import os

    from genropy_asgi.asgi.websocket_policy import WebSocketLimits

    return WebSocketLimits.from_environ(os.environ).max_message_bytes


class GenropyUvicornWorker(UvicornWorker):
    """``uvicorn_worker.UvicornWorker`` with one-at-a-time accepts."""

    ACCEPT_BURST = 1

    CONFIG_KWARGS: dict[str, Any] = {"loop": "auto", **UVICORN_OPTIONS,  # limits: from the environment
                                     "proxy_headers": False,  # the server's ForwardedHeaders decides
                                     "ws_max_size": websocket_max_size()}

    async def _serve(self) -> None:
        queue_length = self.config.backlog
        self.config.app = self.wsgi
        self.config.backlog = self.ACCEPT_BURST
        server = Server(config=self.config)
        self._install_sigquit_handler()
        restore = asyncio.ensure_future(self._restore_listen_queue(server, queue_length))
        try:
            await server.serve(sockets=self.sockets)
        finally:
            restore.cancel()
        if not server.started:
            from gunicorn.arbiter import Arbiter

            raise SystemExit(Arbiter.WORKER_BOOT_ERROR)

    async def _restore_listen_queue(self, server: Server, queue_length: int) -> None:
        while not server.started:
            await asyncio.sleep(0.05)
        for sock in self.sockets:
            sock.listen(queue_length)
