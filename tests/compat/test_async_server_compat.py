"""``gnr web async`` (``genropy_asgi.compat.async_server``): GenroPy still makes a shared object's
file from its id and binds its TCP port on every interface, and the fix refuses unsafe ids and
binds where ``GENROPY_ASYNC_BIND`` says."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import pytest

from genropy_asgi.compat import async_server


def source(function) -> str:
    return inspect.getsource(getattr(function, "__wrapped__", function))


def test_genropy_still_makes_a_file_of_the_id_and_binds_everywhere():
    """Fails the day GenroPy changes what the fix relies on: then re-read and re-decide."""
    from gnr.web import gnrasync

    assert "'%s.xml' % self.shared_id" in inspect.getsource(gnrasync.SharedObject)
    assert "default_savedir = 'site:async/sharedobjects'" in inspect.getsource(gnrasync.SharedObject)
    get = source(gnrasync.SharedObjectsManager.getSharedObject)
    assert "factory(" in get and "shared_id=shared_id" in get
    for handler in ("do_subscribe", "do_loadSharedObject", "do_dispatch"):
        assert "getSharedObject(shared_id" in inspect.getsource(getattr(gnrasync.SharedObjectsManager, handler))
    for handler in ("do_datachange", "do_saveSharedObject", "do_onPathFocus"):  # existing objects only
        assert "self.sharedObjects[shared_id]" in inspect.getsource(getattr(gnrasync.SharedObjectsManager, handler))
    run = inspect.getsource(gnrasync.GnrBaseAsyncServer._run)
    assert "web.TCPSite(" in run and "host='0.0.0.0'" in run


@pytest.mark.parametrize("shared_id", ["../../gnr/environment", "/etc/passwd", "a/b", "a\\b", "..", "x\x00y",
                                       "", None, "a::T", ".hidden"])
def test_unsafe_ids_are_refused_before_an_object_exists(shared_id):
    from gnr.web import gnrasync

    manager = SimpleNamespace(sharedObjects={})
    with pytest.raises(ValueError):
        gnrasync.SharedObjectsManager.getSharedObject(manager, shared_id)
    assert manager.sharedObjects == {}


def test_a_plain_id_still_reaches_genropy():
    from gnr.web import gnrasync

    wrapped = gnrasync.SharedObjectsManager.getSharedObject
    assert wrapped.genropy_asgi_safe_ids and wrapped.__wrapped__  # installed by importing genropy_asgi
    calls = []
    original = wrapped.__wrapped__
    fixed = async_server.refusing_unsafe_ids(lambda self, shared_id, **kw: calls.append(shared_id) or "so")
    assert fixed(None, "sys_note_1A2b-c.d@x") == "so" and calls == ["sys_note_1A2b-c.d@x"]
    assert original is not wrapped


def test_the_tcp_port_binds_where_asked(monkeypatch):
    from gnr.web import gnrasync

    seen = []

    class FakeWeb:
        @staticmethod
        def TCPSite(runner, host=None, port=None, **kwargs):
            seen.append((host, port))

    web = async_server.bound_web(FakeWeb)
    monkeypatch.setenv(async_server.BIND_VARIABLE, "127.0.0.1")
    web.TCPSite("runner", host="0.0.0.0", port=9999)
    monkeypatch.delenv(async_server.BIND_VARIABLE)
    web.TCPSite("runner", host="0.0.0.0", port=9999)
    assert seen == [("127.0.0.1", 9999), ("0.0.0.0", 9999)]
    assert gnrasync.web.TCPSite.genropy_asgi_bound
