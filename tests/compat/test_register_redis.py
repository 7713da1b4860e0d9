"""GenroPy's site register with its state in Redis (``compat.register_redis``,
``GENROPY_REGISTER=redis``), against a real ``redis-server``: the GenroPy code it builds on is
still there; two registers (two processes' views) share pages, stores, datachanges, locks and
the global store; what GenroPy's daemon thread made atomic stays atomic across threads and
processes; a value nobody signed is never unpickled; and on a real site, two gnrasgiserve
processes (two pods) serve one user, survive one of them killed and a Redis restart."""

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
from support import redis_server as make_redis_server

from genropy_asgi.compat import redis_objects, register_redis

KEY = "test-hmac-key"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = make_redis_server(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


class FakeSite:  # only the name GenroPy's client gives the register
    def __init__(self, name: str) -> None:
        self.currentDomainIdentifier = name


@pytest.fixture
def pair(redis_server, request):
    """Two registers of one site, each with its own client and cache: two processes' views."""
    from gnr.web.daemon import siteregister

    name = request.node.name[:40]
    redis_server.client().delete(*redis_server.client().keys(f"*{{{name}}}*") or ["none"])
    return tuple(register_redis.SharedRegister(FakeSite(name), siteregister, KEY, client=redis_server.client())
                 for _ in range(2))


def open_page(proxy, page="p1", connection="c1", user="alice"):
    proxy.new_user(user=user, user_tags="user", user_id="1", user_name=user)
    proxy.new_connection(connection, connection_name="x", user=user, user_id="1", user_name=user, user_tags="user")
    proxy.new_page(page, pagename="index", connection_id=connection, user=user)


def bag(shared, page, method, *args):
    return getattr(shared.remotebag_proxy, method)(*args, _siteregister_register_name="page",
                                                   _siteregister_register_item_id=page)


# -- what GenroPy provides -------------------------------------------------------------

def test_genropy_registers_still_keep_their_state_in_these_attributes():
    from gnr.web.daemon import siteregister

    base = inspect.getsource(siteregister.BaseRegister.__init__)
    for attribute in ("registerItems", "itemsData", "itemsTS", "locked_items", "cached_tables"):
        assert f"self.{attribute} =" in base, attribute
    assert "self.pageProfilers = dict()" in inspect.getsource(siteregister.PageRegister.__init__)
    site = inspect.getsource(siteregister.SiteRegister.__init__)
    for attribute in ("last_cleanup", "interproces_commands"):
        assert f"self.{attribute} =" in site, attribute
    assert {f"{name}_register" for name in register_redis.REGISTERS} <= set(
        part.split(" =")[0].strip().removeprefix("self.") for part in site.splitlines() if "_register =" in part)
    # GenroPy reads itemsTS nowhere but in dump (our Discard keeps nothing)
    for name, member in inspect.getmembers(siteregister, inspect.isclass):
        if member.__module__ == siteregister.__name__:
            for method_name, method in inspect.getmembers(member, inspect.isfunction):
                if method_name not in ("updateTS", "drop_item", "dump", "load", "__init__"):
                    assert "itemsTS" not in inspect.getsource(method), (name, method_name)
    # a Bag forgets its subscribers when pickled: our load hook subscribes again
    assert "_upd_subscribers" in inspect.getsource(__import__("gnr.core.gnrbag", fromlist=["Bag"]).Bag.__getstate__)


def test_the_fix_is_installed():
    from gnr.web.daemon import siteregister_client

    assert getattr(siteregister_client, "GENROPY_ASGI_REGISTER_REDIS_COMPAT", None) == "redis"


# -- semantics, two processes' views -------------------------------------------------------

def test_what_one_process_registers_the_other_sees(pair):
    a, b = pair
    open_page(a.proxy)
    assert [p["register_item_id"] for p in b.proxy.pages()] == ["p1"]
    assert b.proxy.counters() == {"users": 1, "connections": 1, "pages": 1}
    assert b.proxy.user_connection_keys("alice") == ["c1"]
    bag(b, "p1", "setItem", "form.record.name", "Bob")
    assert bag(a, "p1", "getItem", "form.record.name") == "Bob"
    b.proxy.drop_page("p1", cascade=True)  # its connection's last page: GenroPy drops the connection, not the user
    assert a.proxy.counters() == {"users": 1, "connections": 0, "pages": 0}
    b.proxy.drop_user("alice")
    assert a.proxy.counters() == {"users": 0, "connections": 0, "pages": 0}


def test_a_subscribed_path_gets_the_datachanges_of_another_process(pair):
    a, b = pair
    open_page(a.proxy)
    a.proxy.subscribe_path("p1", "shared", register_name="page")
    bag(b, "p1", "setItem", "shared.count", 7)
    bag(b, "p1", "setItem", "private.other", 1)
    paths = [change.path for change in a.proxy.get_datachanges("p1", register_name="page", reset=True)]
    assert "shared.count" in paths and "private.other" not in paths
    assert a.proxy.get_datachanges("p1", register_name="page") == []


def test_database_events_reach_the_subscribed_pages_of_other_processes(pair):
    a, b = pair
    open_page(a.proxy)
    open_page(a.proxy, page="p2", connection="c2", user="bob")
    a.proxy.subscribeTable("p1", "adm.user", True)
    b.proxy.notifyDbEvents({"adm.user": [{"pkey": "1"}]}, origin_page_id="p2", register_name="page")
    assert [c.path for c in a.proxy.get_datachanges("p1", register_name="page")] == ["gnr.dbchanges.adm_user"]
    assert a.proxy.get_datachanges("p2", register_name="page") == []


def test_the_global_store_and_locks_are_shared(pair):
    a, b = pair
    a.remotebag_proxy.setItem("maintenance", True, _siteregister_register_name="global",
                              _siteregister_register_item_id="*")
    assert b.remotebag_proxy.getItem("maintenance", _siteregister_register_name="global",
                                     _siteregister_register_item_id="*") is True
    open_page(a.proxy)
    assert a.proxy.lock_item("c1", reason="batch", register_name="connection") is True
    assert b.proxy.lock_item("c1", reason="other", register_name="connection") is False
    b.proxy.unlock_item("c1", reason="batch", register_name="connection")
    assert b.proxy.lock_item("c1", reason="other", register_name="connection") is True


def test_claim_cleanup_is_won_once_across_threads_and_processes(pair):
    a, b = pair
    wins = []
    threads = [threading.Thread(target=lambda p=p: wins.extend(p.claim_cleanup(60) for _ in range(25)))
               for p in (a.proxy, b.proxy) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(wins) == 1 and len(wins) == 200


def test_concurrent_changes_of_one_page_lose_nothing(pair):
    a, b = pair
    open_page(a.proxy)

    def push(proxy, n):
        for i in range(40):
            proxy.set_datachange("p1", f"x.{n}.{i}", value=i, register_name="page")

    threads = [threading.Thread(target=push, args=(p, n)) for n, p in enumerate((a.proxy, b.proxy) * 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    changes = a.proxy.get_datachanges("p1", register_name="page")
    assert len(changes) == 240 and len({c.change_idx for c in changes}) == 240
    assert a.store.stats["retries"] + b.store.stats["retries"] > 0  # they did meet


WORKER = """
import json, sys
from gnr.web.daemon import siteregister
from genropy_asgi.compat import register_redis
import redis
class Site: currentDomainIdentifier = sys.argv[1]
shared = register_redis.SharedRegister(Site(), siteregister, sys.argv[4],
                                       client=redis.Redis(port=int(sys.argv[2]), password=sys.argv[3]))
for i in range(60):
    shared.proxy.set_datachange("p1", "from.%s.%d" % (sys.argv[5], i), value=i, register_name="page")
print(json.dumps(shared.store.stats))
"""


def test_processes_change_one_page_at_once_and_lose_nothing(pair, redis_server):
    a, _ = pair
    open_page(a.proxy)
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, a.sitename, str(redis_server.port),
                                 redis_server.password, KEY, str(n)], stdout=subprocess.PIPE, text=True)
               for n in range(3)]
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    assert len(a.proxy.get_datachanges("p1", register_name="page")) == 180


def test_a_value_nobody_signed_is_never_unpickled(pair, redis_server, capfd):
    import pickle

    a, b = pair
    open_page(a.proxy)
    key = a.store.object_key("page:items", "p1")
    trap = pickle.dumps(type("Trap", (), {"__reduce__": lambda self: (os.system, ("touch /tmp/pwned-register",))})())
    redis_server.client().hset(key, mapping={"v": "999999999999999999", "b": b"\0" * 32 + trap})
    assert b.proxy.page("p1") is None  # read as absent, never unpickled
    assert not os.path.exists("/tmp/pwned-register")
    assert "its tag is not the site's key's" in capfd.readouterr().err


def test_versions_survive_a_redis_that_lost_its_data(pair, redis_server):
    a, b = pair
    open_page(a.proxy)
    before = int(redis_server.client().get(a.store.clock))
    redis_server.client().delete(*redis_server.client().keys(f"{a.store.prefix}:*"))  # as a restart without AOF
    open_page(b.proxy, page="p9", connection="c9", user="zed")
    assert int(redis_server.client().get(a.store.clock)) > before  # the server's clock, never back
    assert a.proxy.page("p1") is None and a.proxy.page("p9")["user"] == "zed"


# -- a real site, two servers, no gnrdaemon --------------------------------------------------

SIBLING = """
import json, os, sys
sys.argv = ["sibling"]
from gnr.web.gnrwsgisite import GnrWsgiSite
site = GnrWsgiSite(os.environ["SITE"])  # as gnr web async and the task workers build it
print(json.dumps({"users": sorted(site.register.users().keys()), "pages": sorted(site.register.pages().keys())}))
"""


@pytest.fixture
def workspace(tmp_path, tester_password):
    from support import DEMO_PROJECT

    from genropy_asgi.testing.local import GnrWorkspace

    made = GnrWorkspace.create(DEMO_PROJECT, root=tmp_path / "ws",
                               xml_users={"tester": {"pwd": tester_password, "tags": "admin,user"}})
    made.db_setup()
    yield made
    made.remove()


def test_two_servers_share_one_user_and_survive_a_kill_and_a_redis_restart(workspace, tester_password, redis_server):
    from genropy_asgi.testing.client import GenropyClient

    env = redis_server.env()
    first = start_server(workspace, "gnrasgiserve", "--nodebug", env=env, name="pod-a")
    second = start_server(workspace, "gnrasgiserve", "--nodebug", env=env, name="pod-b")
    try:
        ready = GenropyClient(first.base_url).get("/_server/ready")
        assert ready.status_code == 200 and "site register" in ready.text, ready.text
        assert "gnrdaemon" not in ready.text
        page = GenropyClient(first.base_url).login("tester", tester_password)
        # the same page, its cookie and its id, served by the other process: no sticky routing
        page.client.base_url = second.base_url
        assert page.rpc("whoami") == "tester"
        assert page.rpc("note_count") is not None
        sibling = subprocess.run([sys.executable, "-c", SIBLING], env={**workspace.env(), **env,
                                 "SITE": workspace.site_name}, capture_output=True, text=True, timeout=120,
                                 cwd=str(workspace.root))
        assert sibling.returncode == 0, sibling.stderr[-3000:]
        assert "tester" in json.loads(sibling.stdout.strip().splitlines()[-1])["users"]
        first.signal(9)  # a pod lost: nothing of the register was in it
        assert page.rpc("whoami") == "tester"
        redis_server.restart()  # Redis restarted (its append-only file kept)
        started = time.monotonic()
        while True:
            try:
                if page.rpc("whoami") == "tester":
                    break
            except Exception:
                pass
            assert time.monotonic() - started < 10, "the session did not come back after Redis restarted"
            time.sleep(0.1)
    finally:
        second.stop()
        first.stop()


def test_a_redis_that_does_not_answer_is_one_line_at_start(workspace, redis_server):
    env = {**redis_server.env(), "GENROPY_REDIS_PASSWORD": "wrong"}
    done = subprocess.run([str(BIN / "gnrasgiserve"), workspace.site_name, "-p", "1", "--nodebug"],
                          env={**workspace.env(), **env}, capture_output=True, text=True, timeout=120,
                          cwd=str(workspace.root))
    lines = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert any("GENROPY_REGISTER=redis: the register's server (GENROPY_REDIS_URL) does not answer" in line
               for line in lines), done.stderr[-2000:]
    assert redis_server.password not in done.stderr


def test_redis_objects_refuse_an_unknown_key_prefix_outside_a_call(redis_server):
    store = redis_objects.Store(redis_server.client(), "genropy:{outside}", b"k")
    with pytest.raises(RuntimeError, match="used outside a register call"):
        redis_objects.Mapping(store, "page:items").get("x")


def test_a_process_remembers_a_bounded_number_of_objects(pair, monkeypatch):
    a, b = pair
    monkeypatch.setattr(redis_objects, "CACHE_OBJECTS", 40)
    for n in range(30):
        open_page(a.proxy, page=f"p{n}", connection=f"c{n}", user=f"u{n}")
    assert len(a.store.cache) <= 40
    assert len(b.proxy.pages()) == 30 and len(b.store.cache) <= 40  # read through a bounded cache, all there
    for n in range(30):
        a.proxy.drop_page(f"p{n}")
    assert not [k for k in a.store.cache if ":page:items:" in k]  # what it deleted, it forgets


def test_counters_from_the_indexes_answer_what_genropys_own_answers(pair):
    import inspect

    from gnr.web.daemon import siteregister

    assert inspect.getsource(siteregister.SiteRegister.counters).count("len(self.") == 3  # what we answer too
    a, b = pair
    for n in range(3):
        open_page(a.proxy, page=f"p{n}", connection=f"c{n}", user=f"u{n % 2}")
    a.proxy.drop_page("p2")
    genropys = siteregister.SiteRegister.counters
    expected = b.store.run(lambda: genropys(b.register))
    assert b.proxy.counters() == expected == {"users": 2, "connections": 3, "pages": 2}


def test_a_connections_pages_are_read_from_its_index_as_genropys_scan_finds_them(pair):
    import inspect

    from gnr.web.daemon import siteregister

    source = inspect.getsource(siteregister.PageRegister.pages)  # ConnectionPages gives it only values()
    assert "self.values(include_data=include_data)" in source and source.count("self.") == 1
    a, b = pair
    for n in range(3):
        open_page(a.proxy, page=f"p{n}", connection=f"c{n}", user=f"u{n}")
    for n in range(3, 12):
        a.proxy.new_page(f"p{n}", pagename="index", connection_id=f"c{n % 3}", user=f"u{n % 3}")
    a.proxy.drop_page("p4")  # c1 keeps its other pages
    genropys = siteregister.PageRegister.pages
    for connection in ("c0", "c1", "c2", "nobody"):
        expected = b.store.run(lambda: genropys(b.register.page_register, connection_id=connection))
        found = b.proxy.pages(connection_id=connection)
        assert [p["register_item_id"] for p in found] == sorted(p["register_item_id"] for p in expected)
        assert b.proxy.connection_page_keys(connection) == [p["register_item_id"] for p in found]
    assert [p["register_item_id"] for p in b.proxy.pages(connection_id="c1", filters="pagename:index")] == \
        ["p1", "p10", "p7"]
    # one connection's pages load that connection's objects only
    fresh = register_redis.SharedRegister(FakeSite(a.sitename), siteregister, KEY, client=a.client)
    fresh.proxy.pages(connection_id="c2")
    assert sorted(k.rpartition(":")[2] for k in fresh.store.cache if ":page:items:" in k) == ["p11", "p2", "p5", "p8"]
    a.proxy.drop_connection("c2")  # cascade: its pages go, with their index
    assert b.proxy.pages(connection_id="c2") == [] and len(b.proxy.pages()) == 7


def test_within_one_request_what_was_checked_is_not_checked_again(pair):
    a, b = pair
    open_page(a.proxy)
    a.proxy.refresh("p1", last_user_ts=100, last_rpc_ts=100)
    b.proxy.page("p1")  # b's cache knows p1
    before = dict(b.store.stats)
    with b.store.request_scope():
        for _ in range(20):
            assert b.proxy.page("p1")["last_user_ts"] == 100
        assert b.store.stats["round_trips"] - before["round_trips"] == 1  # the first read checked it
        a.proxy.refresh("p1", last_user_ts=200, last_rpc_ts=200)  # another process changes it meanwhile
        assert b.proxy.page("p1")["last_user_ts"] == 100  # this request's snapshot
        b.proxy.refresh("p1", last_user_ts=150, last_rpc_ts=300)  # a write checks what it read: runs again
        item = b.proxy.page("p1")
        assert (item["last_user_ts"], item["last_rpc_ts"]) == (200, 300)  # on the new version, nothing lost
    assert b.store.stats["retries"] - before["retries"] >= 1
    a.proxy.refresh("p1", last_user_ts=400, last_rpc_ts=400)
    assert b.proxy.page("p1")["last_user_ts"] == 400  # outside a request: always checked
    with b.store.request_scope():
        b.proxy.page("p1")
        time.sleep(redis_objects.SCOPE_SECONDS + 0.05)
        a.proxy.refresh("p1", last_user_ts=500, last_rpc_ts=500)
        assert b.proxy.page("p1")["last_user_ts"] == 500  # checked again after a moment


def test_the_site_serves_each_request_in_a_scope(pair):
    a, _ = pair
    calls = []

    class Site:
        def wsgiapp(self, environ, start_response):
            calls.append(getattr(a.store.local, "checked", None) is not None)
            return [b"ok"]

    site = Site()
    site.wsgiapp = site.wsgiapp
    register_redis.scope_requests(site, a.store)
    register_redis.scope_requests(site, a.store)  # once only
    assert site.wsgiapp({}, None) == [b"ok"] and calls == [True]
    assert site.wsgiapp.__wrapped__.__self__ is site
    assert getattr(a.store.local, "checked", None) is None
