"""GenroPy's register stores: the threads of one process wait for each other on a lock, instead
of asking the register again every 0.2 s.

GenroPy's ``ServerStore`` (``with page.pageStore() as store``: every RPC takes its page's) asks
the register ``lock_item(item, reason=thread id)``. While another thread holds the item it
sleeps ``RETRY_DELAY`` (0.2 s) and asks again, up to ``LOCK_MAX_RETRY`` (50) times. When one
page has several RPCs in flight, each waiter therefore wakes on a 0.2 s tick, whenever the
item was freed, and a newcomer can take the item before it. Measured on 16 connections of one
page (``bench/run.py --only register``): p99 in whole multiples of those ticks.

Here a store first takes a re-entrant lock of this process for the same item, then runs
GenroPy's own loop unchanged. A thread that already holds the item passes, as in GenroPy's
nested stores (same thread id, same reason). Within one process a waiter is woken as soon as
the item is freed. Across processes (workers, pods, ``gnr web async``) GenroPy's loop on the
register still decides. What GenroPy promises is unchanged: one thread of the site holds an
item at a time, and a store that cannot get its item within ``LOCK_MAX_RETRY x RETRY_DELAY``
raises GenroPy's ``GnrDaemonLocked``.

Drop it when GenroPy's ``ServerStore`` waits without polling.
"""

from __future__ import annotations

import threading
from typing import Any

TARGET_MODULE = "gnr.web.daemon.siteregister_client"


class ItemLocks:
    """One ``RLock`` per register item that some thread of this process holds or waits for."""

    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.entries: dict[tuple[Any, Any], list[Any]] = {}  # item -> [RLock, threads holding or waiting]

    def acquire(self, item: tuple[Any, Any], timeout: float) -> bool:
        with self.guard:
            entry = self.entries.setdefault(item, [threading.RLock(), 0])
            entry[1] += 1
        if entry[0].acquire(timeout=timeout):
            return True
        self._leave(item, entry)
        return False

    def release(self, item: tuple[Any, Any]) -> None:
        with self.guard:
            entry = self.entries[item]
        entry[0].release()
        self._leave(item, entry)

    def _leave(self, item: tuple[Any, Any], entry: list[Any]) -> None:
        with self.guard:
            entry[1] -= 1
            if entry[1] == 0:
                self.entries.pop(item, None)


LOCKS = ItemLocks()


def item_of(store: Any) -> tuple[Any, Any]:
    return (store.register_name, store.register_item_id)


def patch_client_module(module: Any) -> None:
    store_class = module.ServerStore
    if getattr(store_class, "_genropy_asgi_process_lock", False):
        return
    genropy_enter, genropy_exit = store_class.__enter__, store_class.__exit__
    locked = module.GnrDaemonLocked

    def __enter__(self: Any) -> Any:  # noqa: N807  (the method it replaces)
        item = item_of(self)
        if not LOCKS.acquire(item, timeout=self.max_retry * self.retry_delay):
            raise locked()
        try:
            return genropy_enter(self)
        except BaseException:
            LOCKS.release(item)
            raise

    def __exit__(self: Any, *exc: Any) -> Any:  # noqa: N807
        try:
            return genropy_exit(self, *exc)
        finally:
            LOCKS.release(item_of(self))

    store_class.__enter__, store_class.__exit__ = __enter__, __exit__
    store_class._genropy_asgi_process_lock = True
