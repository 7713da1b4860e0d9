"""gnrdaemon's registers saved and restored (``genropy_asgi.compat.register_store``) and
found again by the site (``compat.register_client``): the code of GenroPy they rely on is
still there, and what they do on their own (the real register classes, no daemon)."""

from __future__ import annotations

import inspect
import pickle

import pytest

from genropy_asgi.compat import register_client, register_store


def source(function) -> str:
    """GenroPy's own code, under our fix when it is installed."""
    return inspect.getsource(getattr(function, "__wrapped__", function))


def test_genropy_still_has_the_save_and_restore_this_fixes():
    from gnr.web.daemon import siteregister

    dump, load = source(siteregister.SiteRegister.dump), source(siteregister.SiteRegister.load)
    assert all(name in dump for name in register_store.REGISTERS)
    assert "open(self.storage_path)" in load  # text mode: why the fix exists
    assert list(inspect.signature(getattr(siteregister.GnrSiteRegisterServer.__init__, "__wrapped__",
                                          siteregister.GnrSiteRegisterServer.__init__)).parameters) == \
        ["self", "sitename", "daemon_uri", "storage_path", "debug"]
    assert "self.siteregister.load()" in source(siteregister.GnrSiteRegisterServer.run)
    assert "os.path.exists(self.storage_path)" in inspect.getsource(siteregister.GnrSiteRegisterServer.start)
    for field in ("registerItems", "itemsData", "itemsTS", "locked_items"):
        assert f"self.{field}" in inspect.getsource(siteregister.BaseRegister.dump)


def test_genropy_client_still_finds_its_register_the_way_the_fix_repeats():
    from gnr.web.daemon import siteregister_client

    client = siteregister_client.SiteRegisterClient
    init = inspect.getsource(client.__init__)
    assert "self.gnrdaemon_proxy = Pyro4.Proxy(daemon_uri)" in init
    assert "self.checkSiteRegisterServerUri(daemonProxy)" in init and "self.initSiteRegister()" in init
    assert "self.siteregister = Pyro4.Proxy(self.siteregister_uri)" in source(client.initSiteRegister)
    assert "autorestore=True" in inspect.getsource(client.checkSiteRegisterServerUri)


def a_site_register():
    from gnr.core.gnrbag import Bag
    from gnr.web.daemon.siteregister import SiteRegister

    class Server:
        hmac_key = "the-daemon-key"

        class daemon:  # noqa: N801  (what SiteRegister registers its remote bag handler with)
            @staticmethod
            def register(obj, name):
                return name

    register = SiteRegister(Server(), sitename="shop", storage_path=None)
    register.user_register.registerItems["admin"] = {"register_item_id": "admin", "user": "admin"}
    register.page_register.itemsData["p1"] = Bag({"rootenv": Bag({"workdate": "2026-12-02"})})
    return register


def test_a_save_is_atomic_and_restores_every_register(tmp_path):
    path = str(tmp_path / "shop.pik")
    register_store.dump_registers(a_site_register(), path)
    assert [p.name for p in tmp_path.iterdir()] == ["shop.pik"]  # no temporary left
    fresh = a_site_register()
    fresh.user_register.registerItems.clear()
    fresh.page_register.itemsData.clear()
    assert register_store.load_registers(fresh, path) is True
    assert fresh.user_register.registerItems["admin"]["user"] == "admin"
    assert fresh.page_register.itemsData["p1"]["rootenv.workdate"] == "2026-12-02"


def test_an_unusable_save_is_set_aside_and_the_register_starts_empty(tmp_path, capsys):
    path = tmp_path / "shop.pik"
    path.write_bytes(pickle.dumps({"half": "written"})[:7])
    register = a_site_register()
    assert register_store.load_registers(register, str(path)) is False
    assert (tmp_path / "shop.pik.bad").exists() and not path.exists()
    assert "saved registers unusable" in capsys.readouterr().err
    assert register.user_register.registerItems["admin"]  # untouched
    assert register_store.load_registers(register, str(tmp_path / "none.pik")) is False


def test_a_save_is_0600_and_a_forged_one_is_never_unpickled(tmp_path, capsys):
    import os
    import stat

    path = tmp_path / "shop.pik"
    os.umask(0o022)
    register_store.dump_registers(a_site_register(), str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_bytes()
    assert content.startswith(register_store.MAGIC)

    class Boom:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path}/pwned",))

    forged = [pickle.dumps(Boom()), content.replace(b"admin", b"admix"),  # code; a changed register
              register_store.MAGIC + b"0" * 64 + b"\n" + pickle.dumps(Boom())]
    for attempt in forged:
        path.write_bytes(attempt)
        register = a_site_register()
        assert register_store.load_registers(register, str(path)) is False
        assert (tmp_path / "shop.pik.bad").exists() and not (tmp_path / "pwned").exists()
    assert "saved registers unusable" in capsys.readouterr().err
    other_key = a_site_register()
    register_store.dump_registers(other_key, str(path))
    other_key.server.hmac_key = "another-key"  # saved by a daemon with another key: refused too
    assert register_store.load_registers(other_key, str(path)) is False


def test_the_store_names_one_file_per_site(tmp_path):
    assert register_store.store_path("/x", "shop") == "/x/shop.pik"
    assert register_store.store_path("/x", "shop|www.example.com") == "/x/shop_www.example.com.pik"


def test_the_client_wrapper_asks_again_once_and_retries(monkeypatch):
    import Pyro4.errors

    calls = []

    class Raw:
        def __init__(self, fails):
            self.fails = fails

        def pages(self):
            calls.append(self)
            if self.fails:
                raise Pyro4.errors.CommunicationError("connection refused")
            return ["p1"]

    class Client:
        siteregister_uri = "PYRO:SiteRegister@10.0.0.9:40001"

    client = Client()
    wrapper = None

    def reinit():
        wrapper._proxy = Raw(fails=False)

    wrapper = register_client.ReconnectingRegister(client, Raw(fails=True), reinit, Pyro4.errors)
    assert wrapper.pages() == ["p1"] and len(calls) == 2

    monkeypatch.setenv("GENROPY_DAEMON_WAIT", "1")

    def never():
        raise Pyro4.errors.CommunicationError("still down")

    stuck = register_client.ReconnectingRegister(client, Raw(fails=True), never, Pyro4.errors)
    with pytest.raises(Pyro4.errors.CommunicationError, match="not reachable after 1s"):
        stuck.pages()
