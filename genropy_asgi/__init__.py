"""genropy_asgi: run an unchanged GenroPy site on uvicorn, with ASGI apps on the same port.

Importing this package installs GenroPy's fixes (``genropy_asgi.compat``, the one place
they are installed from); ``genropy_asgi_gnr_compat.pth`` imports it at the start of every
interpreter of the venv, so the package must cost nothing to import. Public names,
imported lazily:

- ``GenropyAsgiServer`` -- genro-asgi's ``AsgiServer`` plus ``mount``/``run``,
  config.yaml, ``db_registry``/``get_db``/``db`` and the ``/_server`` endpoints;
- ``WsgiGatewayMiddleware`` -- first path segment of a mounted app -> ASGI,
  anything else -> the GenroPy site through a2wsgi on a bounded thread pool;
- ``GenropyProxy`` -- a GenroPy site mounted on a prefix;
- ``gnrasgiserve`` (``genropy_asgi.launch.cli``) -- the drop-in for ``gnrwsgiserve``.

PYTEST_DONT_REWRITE: the .pth imported this package before pytest starts, so pytest
cannot rewrite its asserts (it has none) and would warn about it at every run; the
testing plugin's own modules load later and are still rewritten.
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing

if TYPE_CHECKING:  # typing is not free, and this package loads in every interpreter of the venv
    from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "GenropyAsgiServer": "genropy_asgi.asgi.server",
    "WsgiGatewayMiddleware": "genropy_asgi.asgi.gateway",
    "GenropyProxy": "genropy_asgi.asgi.genropy_proxy",
    "ConfigFileError": "genropy_asgi.asgi.config_file",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'genropy_asgi' has no attribute {name!r}")
    return getattr(import_module(module), name)


def _install_fixes() -> None:
    from genropy_asgi import compat

    compat.install()


_install_fixes()
