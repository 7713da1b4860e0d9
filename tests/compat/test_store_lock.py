"""``compat.store_lock`` on GenroPy's own ``ServerStore`` and ``SiteRegister``, in process: a
store waits for its item in turn, not on GenroPy's 0.2 s polling ticks; the register's own lock
is still taken (what other processes see), nested stores of one thread pass, a store that
cannot get its item still raises GenroPy's ``GnrDaemonLocked``, and nothing is left behind."""

from __future__ import annotations

import inspect
import threading
import time

import pytest
from test_change_feed import genropy_register

from genropy_asgi.compat import store_lock
from genropy_asgi.compat.register_hosted import Serialized


@pytest.fixture
def register():
    return Serialized(genropy_register(), threading.RLock())


def store(register, item: str, **kwargs):
    from gnr.web.daemon.siteregister_client import ServerStore

    return ServerStore(register, "page", register_item_id=item, **kwargs)


def test_genropy_still_polls_its_register_for_a_store():
    """The day GenroPy's ServerStore waits some other way, this fix is to be looked at again."""
    import gnr.web.daemon.siteregister_client as client

    source = inspect.getsource(client)
    assert "while not self.siteregister.lock_item(self.register_item_id, reason=self.thread_id," in source
    assert "time.sleep(self.retry_delay)" in source and "raise GnrDaemonLocked()" in source
    assert client.ServerStore._genropy_asgi_process_lock  # installed by genropy_asgi.compat


def test_a_waiting_store_gets_its_item_when_freed_not_on_the_next_poll(register):
    held, release, got = threading.Event(), threading.Event(), []

    def holder() -> None:
        with store(register, "p1"):
            assert register.lock_item("p1", reason="another process", register_name="page") is False
            held.set()
            release.wait(5)

    def waiter() -> None:
        with store(register, "p1"):
            got.append(time.monotonic())

    first = threading.Thread(target=holder)
    first.start()
    assert held.wait(5)
    second = threading.Thread(target=waiter)
    second.start()
    time.sleep(0.05)  # the waiter is waiting (GenroPy alone: it polled, then sleeps until 0.2 s)
    freed = time.monotonic()
    release.set()
    first.join(5)
    second.join(5)
    assert got and got[0] - freed < 0.08, f"got the item {got[0] - freed:.3f} s after it was freed"
    assert store_lock.LOCKS.entries == {}


def test_nested_stores_of_one_thread_pass_and_a_held_item_still_times_out(register):
    from gnr.web.daemon.siteregister_client import GnrDaemonLocked

    with store(register, "p2"), store(register, "p2"):  # GenroPy's nested stores: same thread, same reason
        outcome = []

        def other() -> None:
            started = time.monotonic()
            try:
                with store(register, "p2", max_retry=2, retry_delay=0.05):
                    outcome.append("entered")
            except GnrDaemonLocked:
                outcome.append(time.monotonic() - started)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(5)
        assert outcome and outcome[0] != "entered" and 0.08 < outcome[0] < 1.0
    assert register.lock_item("p2", reason="another process", register_name="page") is True  # freed
    assert store_lock.LOCKS.entries == {}
