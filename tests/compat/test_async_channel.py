"""``gnr web async``'s socket folder (``genropy_asgi.compat.async_channel``): GenroPy still
computes it where the fix replaces it, and with ``GENROPY_SOCKETS`` both sides agree."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

from genropy_asgi.compat import async_channel


def source(function) -> str:
    return inspect.getsource(getattr(function, "__wrapped__", function))


def test_genropy_still_puts_the_socket_where_the_fix_moves_it():
    from gnr.web import gnrasync
    from gnr.web.gnrwsgisite_proxy import gnrwebsockethandler

    assert "os.path.join(self.gnrsite.site_path, 'sockets')" in source(gnrasync.GnrBaseAsyncServer._ensure_sockets_dir)
    assert "sockets_dir = self._ensure_sockets_dir()" in inspect.getsource(gnrasync.GnrBaseAsyncServer._run)
    init = source(gnrwebsockethandler.WsgiWebSocketHandler.__init__)
    assert "os.path.join(site.site_path, 'sockets')" in init and "self.socket_path = " in init


def test_both_sides_use_the_containers_folder(tmp_path, monkeypatch):
    from gnr.web import gnrasync
    from gnr.web.gnrwsgisite_proxy import gnrwebsockethandler

    site = SimpleNamespace(site_path=str(tmp_path / "shared-site"), instance_path=str(tmp_path / "instance"))
    monkeypatch.setenv(async_channel.VARIABLE, str(tmp_path / "run" / "sockets"))
    handler = gnrwebsockethandler.WsgiWebSocketHandler(site)
    assert handler.socket_path == str(tmp_path / "run" / "sockets" / "async.sock")
    server = SimpleNamespace(gnrsite=site)
    assert gnrasync.GnrBaseAsyncServer._ensure_sockets_dir(server) == str(tmp_path / "run" / "sockets")
    monkeypatch.delenv(async_channel.VARIABLE)
    assert gnrasync.GnrBaseAsyncServer._ensure_sockets_dir(server) == str(tmp_path / "shared-site" / "sockets")
