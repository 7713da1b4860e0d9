"""The site register inside gnrasgiserve's process (``compat.register_hosted``,
``GENROPY_REGISTER=local``): the GenroPy code it builds on is still there; calls are copies,
one at a time; and on a real GenroPy site served by a real gnrasgiserve with NO gnrdaemon, a
page works, another program of the site (a separate Python process, through GenroPy's own
``sitedaemon.xml`` lookup) sees the same register, and a restart after a ``kill -9`` keeps the
login."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import threading
import time

import pytest
from support import BIN, start_server

from genropy_asgi.compat import register_hosted

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# -- what GenroPy provides -------------------------------------------------------------

def test_genropy_still_reads_sitedaemon_xml_before_asking_gnrdaemon():
    from gnr.web.daemon import siteregister_client

    init = inspect.getsource(inspect.unwrap(siteregister_client.SiteRegisterClient.__init__))
    assert "'sitedaemon.xml'" in init and "pid_exists(sitedaemon_pid)" in init
    assert "params.get('register_uri')" in init and "self.initSiteRegister()" in init
    assert siteregister_client.SiteRegisterClient.STORAGE_PATH == "siteregister_data.pik"


def test_genropy_still_builds_its_register_server_the_way_we_start_it():
    from gnr.web.daemon import siteregister

    start = inspect.signature(siteregister.GnrSiteRegisterServer.start)
    assert {"socket", "hmac_key", "multiplex", "run_now"} <= set(start.parameters)
    source = inspect.getsource(siteregister.GnrSiteRegisterServer.start)
    assert "self.daemon.register(self.siteregister, 'SiteRegister')" in source
    assert "self.server.daemon.register(self.remotebag_handler, 'RemoteData')" in inspect.getsource(
        siteregister.SiteRegister.__init__)
    # the atomicity GenroPy relies on (one Pyro thread), which our lock gives back
    assert "single-thread" in inspect.getsource(siteregister.SiteRegister.claim_cleanup)


def test_genropy_remote_bags_still_call_these_methods_on_their_proxy():
    from gnr.web.daemon import siteregister_client

    source = inspect.getsource(siteregister_client.RemoteStoreBag)
    called = {name for name in register_hosted.BAG_METHODS if f"p.{name}(" in source}
    assert called == register_hosted.BAG_METHODS


def test_the_fix_is_installed():
    from gnr.web.daemon import siteregister_client

    assert getattr(siteregister_client, "GENROPY_ASGI_REGISTER_HOSTED_COMPAT", None) == "local"


# -- the proxies --------------------------------------------------------------------------

class Counter:
    def __init__(self) -> None:
        self.items = {"a": [1]}
        self.inside = 0
        self.overlaps = 0

    def get(self, key):
        return self.items[key]

    def put(self, key, value):
        self.items[key] = value

    def slow(self):
        self.inside += 1
        if self.inside > 1:
            self.overlaps += 1
        time.sleep(0.001)
        self.inside -= 1


def test_answers_and_arguments_are_copies_as_over_pyro():
    target = Counter()
    proxy = register_hosted.CopyingProxy(target, threading.RLock())
    got = proxy.get("a")
    got.append(2)
    assert target.items["a"] == [1]
    sent = [3]
    proxy.put("b", sent)
    sent.append(4)
    assert target.items["b"] == [3]
    with pytest.raises(AttributeError):
        proxy._private  # noqa: B018


def test_calls_run_one_at_a_time_from_both_sides():
    target = Counter()
    lock = threading.RLock()
    here, others = register_hosted.CopyingProxy(target, lock), register_hosted.Serialized(target, lock)
    threads = [threading.Thread(target=lambda p=p: [p.slow() for _ in range(30)]) for p in (here, others) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert target.overlaps == 0


# -- a real site, no gnrdaemon ------------------------------------------------------------

SIBLING = """
import json, os, sys
sys.argv = ["sibling"]
from gnr.web.gnrwsgisite import GnrWsgiSite
site = GnrWsgiSite(os.environ["SITE"])  # as gnr web async and the task workers build it
register = site.register
print(json.dumps({"uri": register.siteregister_uri, "pages": sorted(register.pages().keys()),
                  "users": sorted(register.users().keys())}))
"""


def sibling_view(workspace) -> dict:
    """What another program of the site (its own process, GenroPy's own client) sees."""
    env = {**workspace.env(), "SITE": workspace.site_name, "GENROPY_REGISTER": "local", "GENROPY_DAEMON_WAIT": "5"}
    done = subprocess.run([sys.executable, "-c", SIBLING], env=env, capture_output=True, text=True, timeout=120,
                          cwd=str(workspace.root))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def workspace(tmp_path, tester_password):
    from support import DEMO_PROJECT

    from genropy_asgi.testing.local import GnrWorkspace

    made = GnrWorkspace.create(DEMO_PROJECT, root=tmp_path / "ws",
                               xml_users={"tester": {"pwd": tester_password, "tags": "admin,user"}})
    made.db_setup()
    yield made
    made.remove()


def test_a_site_served_without_gnrdaemon_shares_its_register_and_keeps_sessions(workspace, tester_password):
    from genropy_asgi.testing.client import GenropyClient
    from genropy_asgi.testing.local import ServerProcess

    env = {"GENROPY_REGISTER": "local"}
    server = start_server(workspace, "gnrasgiserve", "--nodebug", env=env)
    port = server.port
    try:
        client = GenropyClient(server.base_url)
        page = client.login("tester", tester_password)
        assert page.rpc("note_count") is not None
        info = client.get("/_server/ready")
        assert info.status_code == 200 and "site register" in info.text, info.text
        seen = sibling_view(workspace)
        assert seen["uri"].startswith("PYRO:SiteRegister@./u:"), seen
        assert page.page_id in seen["pages"] and "tester" in seen["users"]
        socket_path = seen["uri"].split("@./u:", 1)[1]
        assert os.stat(os.path.dirname(socket_path)).st_mode & 0o077 == 0  # only this user reaches it
        time.sleep(register_hosted.CHANGED_SAVE + 1)  # saved within a second of the login
    finally:
        server.signal(9)  # kill -9: no save at exit, the announcement left behind with a dead pid
        server.stop()
    announcement = str(workspace.instance_dir / "site" / register_hosted.ANNOUNCEMENT)
    server = ServerProcess([str(BIN / "gnrasgiserve"), workspace.site_name, "-p", str(port), "-H", "127.0.0.1",
                            "--nodebug"], workspace, port, "gnrasgiserve-again", env=env)
    try:
        assert page.rpc("whoami") == "tester"  # the same page, the same login, a new process
        assert "tester" in sibling_view(workspace)["users"]
        # a second server of the site, meanwhile: it uses the first one's register (and says so)
        second = start_server(workspace, "gnrasgiserve", "--nodebug", env=env, name="second")
        try:
            other_page = GenropyClient(second.base_url).page()
            assert other_page.page_id in sibling_view(workspace)["pages"]
            assert f"another server (pid {server.pid}) keeps" in second.output()
        finally:
            second.stop()
        assert page.rpc("note_count") is not None  # the first one's register is still announced
        assert sibling_view(workspace)["uri"].startswith("PYRO:SiteRegister@./u:")
    finally:
        server.stop()
    assert not os.path.exists(announcement)  # withdrawn at a clean exit


def test_local_is_refused_with_several_workers(monkeypatch):
    from genropy_asgi.launch import LaunchError
    from genropy_asgi.launch.app_factory import choose_register

    with pytest.raises(LaunchError, match="GENROPY_WORKERS=2 set GENROPY_REGISTER=redis or pyro"):
        choose_register({"GENROPY_REGISTER": "local", "GENROPY_WORKERS": "2"})
    environ = {"GENROPY_WORKERS": "2"}
    assert choose_register(environ) == "pyro" and environ["GENROPY_REGISTER"] == "pyro"
    for environ in ({}, {"GENROPY_WORKERS": "auto"}):  # auto, the default, without Redis: one process
        assert choose_register(environ) == "local" and environ["GENROPY_REGISTER"] == "local"


def test_a_stale_announcement_of_ours_is_removed_and_genropys_own_kept(tmp_path):
    ours = tmp_path / "ours"
    ours.mkdir()
    (ours / "sitedaemon.xml").write_text('<GenRoBag><params pid="1::L" genropy_asgi="True::B"/></GenRoBag>')
    assert register_hosted.remove_stale_announcement(str(ours)) and not (ours / "sitedaemon.xml").exists()
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sitedaemon.xml").write_text('<GenRoBag><params pid="1::L"/></GenRoBag>')
    assert not register_hosted.remove_stale_announcement(str(theirs)) and (theirs / "sitedaemon.xml").exists()
