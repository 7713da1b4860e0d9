"""One Pyro proxy per thread to gnrdaemon's register (``compat.register_client``): the GenroPy
code it relies on is still there, and against a real Pyro multiplex server (the kind the
register runs) many threads call at once without cross-talk, each on its own connection,
and all of them find the register again after it moved."""

from __future__ import annotations

import inspect
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import Pyro4
import Pyro4.errors
import pytest

from genropy_asgi.compat import register_client


def test_genropy_still_makes_its_register_proxies_the_way_the_fix_repeats():
    from gnr.web.daemon import siteregister, siteregister_client

    make = inspect.getsource(siteregister_client.SiteRegisterClient.pyroProxy)
    assert "Pyro4.Proxy(url)" in make and "_pyroHmacKey = self.hmac_key" in make
    init = inspect.getsource(siteregister_client.SiteRegisterClient.initSiteRegister.__wrapped__)
    assert "self.siteregister = Pyro4.Proxy(self.siteregister_uri)" in init
    # the register is a multiplex server: a connection per thread costs it no thread
    assert siteregister.PYRO_MULTIPLEX is True
    assert 'Pyro4.config.SERVERTYPE = "multiplex"' in inspect.getsource(siteregister.GnrSiteRegisterServer.start)


def test_the_fix_is_installed():
    from gnr.web.daemon import siteregister_client

    assert getattr(siteregister_client, "GENROPY_ASGI_REGISTER_CLIENT_COMPAT", None)


@Pyro4.expose
class Register:
    """Answers each call with its argument and the connection it came on."""

    def __init__(self) -> None:
        self.connections: set[int] = set()

    def echo(self, value: str) -> tuple[str, int]:
        connection = id(Pyro4.current_context.client)
        self.connections.add(connection)
        return value, connection


class MultiplexServer:
    def __init__(self) -> None:
        previous = Pyro4.config.SERVERTYPE
        Pyro4.config.SERVERTYPE = "multiplex"
        try:
            self.daemon = Pyro4.Daemon(host="127.0.0.1")
        finally:
            Pyro4.config.SERVERTYPE = previous
        self.register = Register()
        self.uri = str(self.daemon.register(self.register, "SiteRegister"))
        self.thread = threading.Thread(target=self.daemon.requestLoop, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.daemon.shutdown()
        self.thread.join(10)
        self.daemon.close()


@pytest.fixture
def servers():
    started: list[MultiplexServer] = []

    def start() -> MultiplexServer:
        started.append(MultiplexServer())
        return started[-1]

    yield start
    for server in started:
        server.stop()


def test_many_threads_call_at_once_on_their_own_connections(servers):
    server = servers()

    class Client:
        siteregister_uri = server.uri

    wrapper = register_client.ReconnectingRegister(Client(), Pyro4.Proxy(server.uri), lambda: None, Pyro4.errors,
                                                   make_proxy=lambda: Pyro4.Proxy(server.uri))

    def calls(worker: int) -> list[bool]:
        return [wrapper.echo(f"{worker}-{n}")[0] == f"{worker}-{n}" for n in range(40)]

    with ThreadPoolExecutor(16) as pool:
        results = [ok for batch in pool.map(calls, range(16)) for ok in batch]
    assert len(results) == 640 and all(results)  # every answer is the caller's own
    assert len(server.register.connections) == 16  # one connection per thread, not one shared


def test_every_thread_finds_the_register_again_after_it_moved(servers, monkeypatch):
    monkeypatch.setenv("GENROPY_DAEMON_WAIT", "5")
    first = servers()
    current = {"uri": first.uri}

    class Client:
        siteregister_uri = first.uri

    wrapper = None

    def reinit() -> None:  # what GenroPy's initSiteRegister does once gnrdaemon answers again
        wrapper._proxy = Pyro4.Proxy(current["uri"])

    wrapper = register_client.ReconnectingRegister(Client(), Pyro4.Proxy(first.uri), reinit, Pyro4.errors,
                                                   make_proxy=lambda: Pyro4.Proxy(current["uri"]))
    with ThreadPoolExecutor(8) as pool:
        assert all(v == str(n) for n, (v, _) in enumerate(pool.map(wrapper.echo, map(str, range(32)))))
        first.stop()
        second = servers()  # the register restarted elsewhere (a new port)
        current["uri"] = second.uri
        answers = list(pool.map(wrapper.echo, map(str, range(64))))
    assert [value for value, _ in answers] == [str(n) for n in range(64)]
    assert second.register.connections  # the calls reached the new register


def test_genropy_still_sleeps_a_second_while_gnrdaemon_starts_the_register():
    """What the short-pause fix replaces: the one-second sleep of checkSiteRegisterServerUri,
    through the module's ``time``."""
    from gnr.web.daemon import siteregister_client

    source = inspect.getsource(siteregister_client.SiteRegisterClient.checkSiteRegisterServerUri.__wrapped__)
    assert source.count("time.sleep(1)") == 2 and "create=True" in source
    assert isinstance(siteregister_client.time, register_client.ModuleClock)


def test_the_register_is_asked_again_after_50_ms_then_longer():
    from gnr.web.daemon import siteregister_client

    answers = iter([{}, {}, {"server_uri": "PYRO:x@h:1", "register_uri": "PYRO:SiteRegister@h:2"}])

    class Daemon:
        def getSite(self, *args, **kwargs):
            return next(answers)

    class Site:
        currentDomainIdentifier = "demo"

    client = siteregister_client.SiteRegisterClient.__new__(siteregister_client.SiteRegisterClient)
    client.site, client.storage_path, client.siteregisterserver_uri = Site(), "/tmp/x.pik", None
    started = time.monotonic()
    while not client.checkSiteRegisterServerUri(Daemon()):
        pass
    assert time.monotonic() - started < 0.5  # 50 + 100 ms, not GenroPy's 2 s
    assert client.siteregister_uri == "PYRO:SiteRegister@h:2"
