"""Make GenroPy's pushes from the WSGI side reach the pages again (``gnr web async``).

Why this exists: GenroPy 26.10's ``WsgiWebSocketHandler`` (the web server's and the
task workers' side of the real-time channel) posts to the async server's ``/wsproxy``
a form built with ``urlencode(dict(page_id=..., remote_service=None, envelope=...))``,
which sends the text ``remote_service=None``. The aiohttp async server reads any
non-empty ``remote_service`` as the name of a registered gateway service, finds
no service called "None", and drops the message: ``publishToClient``,
``setInClientData``, ``fireInClientData`` and the page registration with the async
server never arrive.

A second bug in the same sender: every thread of a process shares ONE
``HTTPConnection`` to the async server (``_socketConnection``), opened, used for one
request and closed; two threads pushing at once collide and the request answers 500
(``http.client.CannotSendRequest: Request-sent``; measured 1 in 432 requests under 16
clients).

What it does: in ``gnr.web.gnrwsgisite_proxy.gnrwebsockethandler`` only, the
``urllib`` the module sees leaves ``None`` values out of a form (an absent field is
what the async server expects for "none"), and the methods that use the shared
connection (``sendCommandToPage``, ``sendCommandToRemoteService``, ``checkSocket``,
``close``) run under one lock per process (a push is a sub-millisecond write on a Unix
socket). Registered for every interpreter of the environment by ``genropy_asgi.compat``.

When to drop it: ``tests/compat/test_wsproxy_compat.py`` fails the day GenroPy stops
sending ``None`` as text, or stops sharing the connection.
"""

from __future__ import annotations

import functools
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

TARGET_MODULE = "gnr.web.gnrwsgisite_proxy.gnrwebsockethandler"
SHARED_CONNECTION_METHODS = ("sendCommandToPage", "sendCommandToRemoteService", "checkSocket", "close")
CONNECTION_LOCK = threading.RLock()  # reentrant: sendCommandToPage calls close()


def under_connection_lock(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with CONNECTION_LOCK:
            return method(*args, **kwargs)

    locked.genropy_asgi_locked = True  # type: ignore[attr-defined]
    return locked


def urlencode_without_none(query: Any, *args: Any, **kwargs: Any) -> str:
    """``urllib.parse.urlencode``, leaving out the fields whose value is ``None``."""
    if hasattr(query, "items"):
        query = {key: value for key, value in query.items() if value is not None}
    return urllib.parse.urlencode(query, *args, **kwargs)


def patch_websockethandler_module(module: Any) -> None:
    parse = SimpleNamespace(**{name: getattr(urllib.parse, name) for name in urllib.parse.__all__})
    parse.urlencode = urlencode_without_none
    module.urllib = SimpleNamespace(parse=parse, request=urllib.request, error=urllib.error)
    for cls in (module.WebSocketHandler, module.WsgiWebSocketHandler):
        for name in SHARED_CONNECTION_METHODS:
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "genropy_asgi_locked", False):
                setattr(cls, name, under_connection_lock(method))
    module.GENROPY_ASGI_COMPAT = "urlencode without None"
