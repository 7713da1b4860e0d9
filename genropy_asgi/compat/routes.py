"""Keep GenroPy's optional ``/_api`` dispatcher alive on genro-routes >= 0.30.

Why this exists: genro-asgi 0.46 requires genro-routes >= 0.30, whose ``Router``
no longer accepts ``name=``/``branch=``. GenroPy 26.10 imports genro-routes when it
is importable and then calls ``Router(self, name='api', branch=True)`` in
``gnr/web/gnrwsgisite_proxy/gnrapidispatcher.py``: in such an environment every
``GnrWsgiSite()`` raises ``TypeError`` -- ``gnrwsgiserve`` included.

What it does: an import hook (``genropy_asgi.compat``, installed for EVERY Python process of
the environment by ``genropy_asgi_gnr_compat.pth``, shipped in our wheel) waits for
that one GenroPy module to be imported and, only when the conflict is really
there, replaces its private ``_ApiRouterOwner`` with an adapter on the new API
(the owner's single ``route`` router, the same ``node()`` resolution and the same
exceptions), so ``/_api`` keeps working. Nothing else of GenroPy is touched.

Switch: ``GENROPY_ASGI_GNR_API`` = ``adapter`` (default) | ``off`` (GenroPy's
dispatcher is disabled and ``/_api`` answers 501, as when genro-routes is absent).

When to drop it: ``tests/compat/test_routes_compat.py`` fails the day GenroPy stops
passing ``name=`` or genro-routes accepts it again.

This module must stay cheap and stdlib-only at import time: it runs at the start
of every interpreter of the venv.
"""

from __future__ import annotations

import os
import sys
from typing import Any

TARGET_MODULE = "gnr.web.gnrwsgisite_proxy.gnrapidispatcher"
SWITCH_VARIABLE = "GENROPY_ASGI_GNR_API"
MODES = ("adapter", "off")


def requested_mode(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    """The mode asked for by ``GENROPY_ASGI_GNR_API``.

    gnrasgiserve and the image refuse a bad value at start; any other process of the
    environment (``gnrwsgiserve``...) says so and falls back to ``adapter``.
    """
    from genropy_asgi import settings

    try:
        mode: str = settings.read(environ, SWITCH_VARIABLE)
        return mode
    except settings.SettingError as exc:
        sys.stderr.write(f"genropy-asgi: {exc}; using 'adapter'\n")
        return "adapter"


def router_rejects_name(router_class: type) -> bool:
    """True when ``router_class(owner, name=...)`` would raise ``TypeError``."""
    import inspect

    for klass in router_class.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters
        if "name" in parameters:
            return False
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            return True
    return False


def make_adapted_owner(routing_class: type) -> type:
    """An ``_ApiRouterOwner`` for genro-routes >= 0.30: ``api`` is the owner's router."""

    class _ApiRouterOwner(routing_class):  # type: ignore[misc]
        """GenroPy's API router owner, adapted by genropy-asgi (see routes_compat)."""

        @property
        def api(self) -> Any:
            return self.route

    return _ApiRouterOwner


def patch_dispatcher_module(module: Any, mode: str | None = None) -> str:
    """Apply the fix to an executed ``gnrapidispatcher`` module; return what was done.

    Returns one of ``"absent"`` (genro-routes not importable: nothing to fix),
    ``"compatible"`` (the installed genro-routes still takes ``name=``),
    ``"adapter"`` or ``"off"``.
    """
    if not getattr(module, "HAS_GENRO_ROUTES", False):
        return "absent"
    if not router_rejects_name(module.Router):
        return "compatible"
    mode = mode or requested_mode()
    if mode == "off":
        module.HAS_GENRO_ROUTES = False
    else:
        module._ApiRouterOwner = make_adapted_owner(module.RoutingClass)
    module.GENROPY_ASGI_COMPAT = mode
    return mode
