"""``gnr web async``: shared-object ids stay file names, and its TCP port binds where asked.

Why this exists: GenroPy 26.10's async server (``gnr.web.gnrasync``) takes a shared
object's id from any websocket message (``som.subscribe``, ``som.loadSharedObject``,
``som.saveSharedObject``, ``som.dispatch``...) and makes it the file
``site:async/sharedobjects/<id>.xml``: an id of ``../../../gnr/environment`` read the
generated configuration (gnrdaemon's HMAC key) and a save wrote any ``.xml`` the process
can write. The relay in front refuses such messages (``asgi.websocket_policy``), but the
async server is reachable on its own socket (and, with ``-p PORT``, on TCP), so the fix
lives in it too: ``SharedObjectsManager.getSharedObject`` -- the one way a shared object
comes to exist, hence to have a file -- refuses an id that is not a plain identifier
(``websocket_policy.safe_shared_id``) with ``ValueError`` (GenroPy logs it; nothing is read
or written). And its TCP port (``gnr web async -p``) is bound on ``0.0.0.0`` whatever the
web server's host: with ``GENROPY_ASYNC_BIND`` set (gnrasgiserve sets it to its own
``-H`` host) that address is used instead.

When to drop it: ``tests/compat/test_async_server_compat.py`` fails the day GenroPy changes
the code this relies on (``getSharedObject``, the ``web.TCPSite`` call in ``_run``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

TARGET_MODULE = "gnr.web.gnrasync"
BIND_VARIABLE = "GENROPY_ASYNC_BIND"


def refusing_unsafe_ids(method: Callable[..., Any]) -> Callable[..., Any]:
    from genropy_asgi.asgi.websocket_policy import safe_shared_id

    @functools.wraps(method)
    def get_shared_object(self: Any, shared_id: Any, *args: Any, **kwargs: Any) -> Any:
        if not safe_shared_id(shared_id):
            raise ValueError(f"genropy-asgi: refused shared object id {str(shared_id)[:80]!r}")
        return method(self, shared_id, *args, **kwargs)

    get_shared_object.genropy_asgi_safe_ids = True  # type: ignore[attr-defined]
    return get_shared_object


def bound_web(web: Any) -> Any:
    """``aiohttp.web`` as the module sees it, with ``TCPSite`` bound on ``GENROPY_ASYNC_BIND``."""
    original = web.TCPSite

    def tcp_site(runner: Any, host: Any = None, *args: Any, **kwargs: Any) -> Any:
        bind = os.environ.get(BIND_VARIABLE, "").strip()
        return original(runner, bind or host, *args, **kwargs)

    tcp_site.genropy_asgi_bound = True  # type: ignore[attr-defined]
    names = {name: getattr(web, name) for name in dir(web) if not name.startswith("__")}
    return SimpleNamespace(**{**names, "TCPSite": tcp_site})


def patch_async_module(module: Any) -> None:
    manager = module.SharedObjectsManager
    if not getattr(manager.getSharedObject, "genropy_asgi_safe_ids", False):
        manager.getSharedObject = refusing_unsafe_ids(manager.getSharedObject)
    if not getattr(module.web.TCPSite, "genropy_asgi_bound", False):
        module.web = bound_web(module.web)
