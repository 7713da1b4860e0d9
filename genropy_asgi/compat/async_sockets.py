"""``gnr web async``'s Unix socket in a folder of this container, not in the shared site folder.

Why this exists: GenroPy 26.10 puts the async server's socket (``async.sock``) and its
``async_port`` file in ``<site>/sockets`` -- both the server (``gnr.web.gnrasync``) and
the web side that pushes to it (``gnrwebsockethandler``) compute that path. Once the
site folder is a volume shared by several pods (``GENROPY_SITE_DATA``), every pod's
async server binds the same path: the last one started takes it, the others' pushes
and websockets go to that pod, or nowhere once it is gone, and across nodes (NFS) a
Unix socket does not connect at all.

What it does, only when ``GENROPY_SOCKETS`` names a folder (the image sets
``$GENROPY_RUN/sockets``, the container's own): both sides use that folder.

When to drop it: ``tests/compat/test_async_sockets.py`` fails the day GenroPy changes
the code this relies on.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

VARIABLE = "GENROPY_SOCKETS"
SOCKET_NAME = "async.sock"


def sockets_folder() -> str | None:
    folder = os.environ.get(VARIABLE, "").strip()
    if folder:
        os.makedirs(folder, exist_ok=True)
    return folder or None


def patch_async_module(module: ModuleType) -> None:
    server_class = module.GnrBaseAsyncServer
    original = server_class._ensure_sockets_dir

    def ensure_sockets_dir(self: Any) -> str:
        return sockets_folder() or original(self)

    ensure_sockets_dir.__wrapped__ = original  # type: ignore[attr-defined]
    server_class._ensure_sockets_dir = ensure_sockets_dir
    module.GENROPY_ASGI_SOCKETS_COMPAT = VARIABLE


def patch_handler_module(module: ModuleType) -> None:
    handler_class = module.WsgiWebSocketHandler
    original = handler_class.__init__

    def init(self: Any, site: Any) -> None:
        original(self, site)
        folder = sockets_folder()
        if folder:
            self.socket_path = os.path.join(folder, SOCKET_NAME)

    init.__wrapped__ = original  # type: ignore[attr-defined]
    handler_class.__init__ = init
    module.GENROPY_ASGI_SOCKETS_COMPAT = VARIABLE
