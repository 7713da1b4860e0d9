"""The private names of upstream libraries we rely on (``genropy_asgi.compat.upstream``, the
gunicorn worker's override) still exist in the installed versions: this fails the day
a release changes them."""

from __future__ import annotations

import inspect

from genropy_asgi.compat import upstream


def test_genro_asgi_keeps_its_uvicorn_server_and_docs_style_where_we_set_them():
    from genro_asgi.applications.openapi import OpenApiApplication
    from genro_asgi.server import BaseServer

    assert f"self.{upstream.GENRO_ASGI_UVICORN}" in inspect.getsource(BaseServer)
    assert f"return self.{upstream.GENRO_ASGI_DOCS_STYLE}" in inspect.getsource(OpenApiApplication.docs_style.fget)


def test_genropy_servers_mark_their_site_the_same_way():
    from gnr.web import serverwsgi

    assert f".{upstream.SITE_LOCAL_MODE} = True" in inspect.getsource(serverwsgi)


def test_pyro_proxies_take_a_timeout_attribute():
    import Pyro4.core

    assert upstream.PYRO_TIMEOUT in Pyro4.core.Proxy._Proxy__pyroAttributes
    proxy = Pyro4.core.Proxy("PYRO:x@127.0.0.1:9")
    upstream.set_pyro_timeout(proxy, 5)
    assert proxy._pyroTimeout == 5
    assert str(upstream.pyro_uri(proxy)) == "PYRO:x@127.0.0.1:9"


def test_uvicorn_worker_still_serves_through_the_method_we_override():
    from uvicorn_worker import UvicornWorker

    from genropy_asgi.asgi.gunicorn_worker import GenropyUvicornWorker

    assert inspect.iscoroutinefunction(UvicornWorker._serve)
    assert "self._serve()" in inspect.getsource(UvicornWorker.run)
    assert hasattr(UvicornWorker, "_install_sigquit_handler")
    assert GenropyUvicornWorker._serve is not UvicornWorker._serve
