"""The change feed (``data_api.change_feed``) against GenroPy's own ``SiteRegister``, in process:
subscriptions that fail, a register that drops the feed's page, queued events of a table nobody
watches any more, errors in the poll. (Found by an attack review; each test failed before its fix.)"""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest

from genropy_asgi.data_api.change_feed import ChangeHub, FeedUnavailable


class DaemonServer:  # what SiteRegister's constructor reads of gnrdaemon's server
    daemon = SimpleNamespace(register=lambda *args, **kwargs: None)
    gnr_daemon_uri = None


def genropy_register():
    from gnr.web.daemon.siteregister import SiteRegister

    register = SiteRegister(DaemonServer(), sitename="feed-test")
    register.setConfiguration()
    return register


class Flaky:
    """The register, with the calls named in ``failing`` raising (a register restarting, a blip)."""

    def __init__(self, register) -> None:
        self.register, self.failing = register, set()

    def __getattr__(self, name):
        if name in self.failing:
            def refused(*args, **kwargs):
                raise ConnectionError(f"{name}: the register is down")
            return refused
        return getattr(self.register, name)


@pytest.fixture
def flaky_hub(tmp_path):
    """GenroPy's register, the same behind ``Flaky``, and a hub on the flaky one."""
    register = genropy_register()
    flaky = Flaky(register)
    return register, flaky, hub_on(flaky, tmp_path)


def hub_on(register, tmp_path) -> ChangeHub:
    site = SimpleNamespace(register=SimpleNamespace(siteregister=register), allConnectionsFolder=str(tmp_path))
    return ChangeHub(lambda: site, poll_seconds=0.02)


def commit(register, table: str, pkey: str, event: str = "U") -> None:
    """What GenroPy's site does after a commit (``GnrWsgiWebApp.onDbCommitted``)."""
    register.notifyDbEvents({table: [{"dbevent": event, "pkey": pkey, "old_pkey": None}]}, register_name="page")


def keys(subscriber) -> list:
    return [change.pkey for batch in subscriber.drain() for change in batch.changes]


def test_events_of_a_table_nobody_watches_any_more_are_never_handed_out(tmp_path):
    """Queued before its last subscriber left: not to its next subscriber, not to a table GenroPy
    names alike (``a.b_c`` and ``a_b.c`` are both ``a_b_c``)."""
    register = genropy_register()
    hub = hub_on(register, tmp_path)

    async def scenario():
        keep = await hub.subscribe("other.t")  # keeps the page open
        secret = await hub.subscribe("a.b_c")
        await asyncio.sleep(0.1)
        gate = threading.Event()
        hub.executor.submit(gate.wait)  # no collection in between
        commit(register, "a.b_c", "SECRET-KEY")
        leaving = asyncio.create_task(hub.unsubscribe(secret))
        await asyncio.sleep(0)
        assert not hub.clashes("a_b.c")
        joining = asyncio.create_task(hub.subscribe("a_b.c"))
        await asyncio.sleep(0.05)
        gate.set()
        await leaving
        other = await joining
        await asyncio.sleep(0.2)
        found = keys(other)
        await hub.unsubscribe(other)
        await hub.unsubscribe(keep)
        return found

    assert asyncio.run(scenario()) == []


def test_a_failed_first_subscription_fails_everyone_waiting_and_leaves_nothing(flaky_hub):
    register, flaky, hub = flaky_hub
    flaky.failing.add("new_page")

    async def scenario():
        first = asyncio.create_task(hub.subscribe("x.t"))
        await asyncio.sleep(0)
        second = asyncio.create_task(hub.subscribe("x.t"))
        for waiting in (first, second):
            with pytest.raises(FeedUnavailable):
                await waiting
        assert hub.subscribers == {}
        flaky.failing.clear()  # the register is back: a later client is really subscribed
        later = await hub.subscribe("x.t")
        commit(register, "x.t", "K")
        await asyncio.sleep(0.2)
        found = keys(later)
        await hub.unsubscribe(later)
        return found

    assert asyncio.run(scenario()) == ["K"]


def test_a_page_that_could_not_be_closed_is_closed_when_the_register_is_back(flaky_hub, tmp_path):
    register, flaky, hub = flaky_hub

    async def scenario():
        subscriber = await hub.subscribe("x.t")
        await asyncio.sleep(0.05)
        flaky.failing.add("drop_connection")
        await hub.unsubscribe(subscriber)  # the last one: the page should go, and cannot
        assert register.subscribed_table_pages("x.t")
        flaky.failing.clear()
        for _ in range(100):
            await asyncio.sleep(0.05)
            if hub._task.done():
                break
        return register.subscribed_table_pages("x.t"), list(tmp_path.iterdir())

    pages, folders = asyncio.run(scenario())
    assert pages == [] and folders == []  # nothing left to collect events nobody reads


def test_a_failed_subscription_leaves_no_table_behind(flaky_hub):
    """A table the register did not subscribe is never subscribed later behind anyone's back."""
    register, flaky, hub = flaky_hub

    async def scenario():
        watching = await hub.subscribe("x.a")
        flaky.failing.add("subscribeTable")
        with pytest.raises(FeedUnavailable):
            await hub.subscribe("x.b")
        flaky.failing.clear()
        register.drop_page(hub._page.page_id)  # the register restarts without its pages
        await asyncio.sleep(0.2)  # the feed opens its page again, with what it watches
        tables = set(hub._page.tables)
        await hub.unsubscribe(watching)
        return tables, register.subscribed_table_pages("x.b")

    tables, pages = asyncio.run(scenario())
    assert tables == {"x.a"} and pages == []


def test_the_poll_outlives_an_unexpected_error(tmp_path, monkeypatch):
    from genropy_asgi.data_api import change_feed

    register = genropy_register()
    hub = hub_on(register, tmp_path)
    real, calls = change_feed.FeedPage.collect, []

    def odd_once(page, codes):
        calls.append(1)
        if len(calls) == 2:
            raise TypeError("something GenroPy never said before")
        return real(page, codes)

    monkeypatch.setattr(change_feed.FeedPage, "collect", odd_once)

    async def scenario():
        subscriber = await hub.subscribe("x.t")
        await asyncio.sleep(0.2)
        commit(register, "x.t", "K")
        started = time.monotonic()
        while not subscriber.batches and time.monotonic() - started < 2:
            await asyncio.sleep(0.02)
        found = keys(subscriber)
        await hub.unsubscribe(subscriber)
        return found

    assert asyncio.run(scenario()) == ["K"]
