"""Where the web side reaches ``gnr web async``: a socket of this container, or a shared one.

Why this exists: GenroPy 26.10 puts the async server's socket (``async.sock``) and its
``async_port`` file in ``<site>/sockets`` -- both the server (``gnr.web.gnrasync``) and
the web side that pushes to it (``gnrwebsockethandler``) compute that path. Once the
site folder is a volume shared by several pods (``GENROPY_SITE_DATA``), every pod's
async server binds the same path: the last one started takes it, the others' pushes
and websockets go to that pod, or nowhere once it is gone, and across nodes (NFS) a
Unix socket does not connect at all.

What it does, only when ``GENROPY_SOCKETS`` names a folder (the image sets
``$GENROPY_RUN/sockets``, the container's own): both sides use that folder. And when
``GENROPY_ASYNC_ADDRESS`` names the ``host:port`` of a shared async server (mode
``async``, so that a page open through one web pod gets the updates triggered through
another), the web side's pushes go there over TCP instead of to a local socket.

When to drop it: ``tests/compat/test_async_channel.py`` fails the day GenroPy changes
the code this relies on.
"""

from __future__ import annotations

import os
from typing import Any

VARIABLE = "GENROPY_SOCKETS"
ADDRESS_VARIABLE = "GENROPY_ASYNC_ADDRESS"
SOCKET_NAME = "async.sock"
PUSH_TIMEOUT = 1000  # GenroPy's own, for its Unix socket connection


def sockets_folder() -> str | None:
    folder = os.environ.get(VARIABLE, "").strip()
    if folder:
        os.makedirs(folder, exist_ok=True)
    return folder or None


def patch_async_module(module: Any) -> None:
    server_class = module.GnrBaseAsyncServer
    original = server_class._ensure_sockets_dir

    def ensure_sockets_dir(self: Any) -> str:
        return sockets_folder() or original(self)

    ensure_sockets_dir.__wrapped__ = original  # type: ignore[attr-defined]
    server_class._ensure_sockets_dir = ensure_sockets_dir
    module.GENROPY_ASGI_SOCKETS_COMPAT = VARIABLE


def shared_async_server() -> tuple[str, int] | None:
    address = os.environ.get(ADDRESS_VARIABLE, "").strip()
    if not address:
        return None
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def patch_handler_module(module: Any) -> None:
    handler_class = module.WsgiWebSocketHandler
    original, original_connection = handler_class.__init__, handler_class.socketConnection

    def init(self: Any, site: Any) -> None:
        original(self, site)
        folder = sockets_folder()
        if folder:
            self.socket_path = os.path.join(folder, SOCKET_NAME)
        self.genropy_asgi_async_tcp = shared_async_server()

    def socket_connection(self: Any) -> Any:
        tcp = getattr(self, "genropy_asgi_async_tcp", None)
        if tcp is None:
            return original_connection.fget(self)
        if not hasattr(self, "_socketConnection"):
            import http.client

            host, port = tcp
            connection = http.client.HTTPConnection(host, port, timeout=PUSH_TIMEOUT)
            connection.connect()
            self._socketConnection = connection
        return self._socketConnection

    init.__wrapped__ = original  # type: ignore[attr-defined]
    socket_connection.__wrapped__ = original_connection.fget  # type: ignore[attr-defined]
    handler_class.__init__ = init
    handler_class.socketConnection = property(socket_connection)
    module.GENROPY_ASGI_SOCKETS_COMPAT = VARIABLE
