"""Every private attribute of an upstream library we rely on, behind one function each.

A private name can change in any release without notice; here each use is named
once, with what it relies on, and ``tests/compat/test_upstream.py`` fails the day the
installed version stops providing it (``scripts/test`` runs it against the lock;
a newer release is a test run away). Overriding a private method (the gunicorn
worker's ``_serve``) cannot live here: its test does.
"""

from __future__ import annotations

from typing import Any

# genro-asgi: AsgiServer keeps its uvicorn.Server in ``_uvicorn`` (its ``uvicorn``
# property and its own stop path read it); OpenApiApplication's ``docs_style``
# property answers ``_docs_style``.
GENRO_ASGI_UVICORN = "_uvicorn"
GENRO_ASGI_DOCS_STYLE = "_docs_style"
# GenroPy: a site built by a server process (not a script) sets ``_local_mode``, as
# GenroPy's own gnrwsgiserve does (gnr/web/serverwsgi.py).
SITE_LOCAL_MODE = "_local_mode"
# Pyro4: a proxy's call timeout and its target, documented as ``Proxy._pyroTimeout``
# and ``Proxy._pyroUri``.
PYRO_TIMEOUT = "_pyroTimeout"
PYRO_URI = "_pyroUri"


def set_uvicorn_server(asgi_server: Any, uvicorn_server: Any) -> None:
    setattr(asgi_server, GENRO_ASGI_UVICORN, uvicorn_server)


def uvicorn_server(asgi_server: Any) -> Any:
    return getattr(asgi_server, GENRO_ASGI_UVICORN, None)


def set_docs_style(application: Any, style: str) -> None:
    setattr(application, GENRO_ASGI_DOCS_STYLE, style)


def mark_served_site(site: Any) -> None:
    setattr(site, SITE_LOCAL_MODE, True)


def set_pyro_timeout(proxy: Any, seconds: float) -> None:
    setattr(proxy, PYRO_TIMEOUT, seconds)


def pyro_timeout(proxy: Any) -> Any:
    return getattr(proxy, PYRO_TIMEOUT, None)


def pyro_uri(proxy: Any) -> Any:
    return getattr(proxy, PYRO_URI)
