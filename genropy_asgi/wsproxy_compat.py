"""Make GenroPy's pushes from the WSGI side reach the pages again (``gnr web async``).

Why this exists: GenroPy 26.10's ``WsgiWebSocketHandler`` (the web server's and the
task workers' side of the real-time channel) posts to the async server's ``/wsproxy``
a form built with ``urlencode(dict(page_id=..., remote_service=None, envelope=...))``,
which sends the text ``remote_service=None``. The aiohttp async server reads any
non-empty ``remote_service`` as the name of a registered gateway service, finds
no service called "None", and drops the message: ``publishToClient``,
``setInClientData``, ``fireInClientData`` and the page registration with the async
server never arrive.

What it does: in ``gnr.web.gnrwsgisite_proxy.gnrwebsockethandler`` only, the
``urllib`` the module sees leaves ``None`` values out of a form (an absent field is
what the async server expects for "none"). Registered for every interpreter of
the environment by ``gnr_compat``.

When to drop it: ``tests/unit/test_wsproxy_compat.py`` fails the day GenroPy stops
sending ``None`` as text.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from types import ModuleType, SimpleNamespace
from typing import Any

TARGET_MODULE = "gnr.web.gnrwsgisite_proxy.gnrwebsockethandler"


def urlencode_without_none(query: Any, *args: Any, **kwargs: Any) -> str:
    """``urllib.parse.urlencode``, leaving out the fields whose value is ``None``."""
    if hasattr(query, "items"):
        query = {key: value for key, value in query.items() if value is not None}
    return urllib.parse.urlencode(query, *args, **kwargs)


def patch_websockethandler_module(module: ModuleType) -> None:
    parse = SimpleNamespace(**{name: getattr(urllib.parse, name) for name in urllib.parse.__all__})
    parse.urlencode = urlencode_without_none
    module.urllib = SimpleNamespace(parse=parse, request=urllib.request, error=urllib.error)
    module.GENROPY_ASGI_COMPAT = "urlencode without None"


def install() -> None:
    from genropy_asgi import gnr_compat

    gnr_compat.register(TARGET_MODULE, patch_websockethandler_module)
