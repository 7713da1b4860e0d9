"""The change stream's source: GenroPy's own database events, from every process and pod.

How GenroPy tells an open page what others committed: after a commit, the site process that
committed sends each table's events (insert, update, delete, with the record's key) to the site
register (gnrdaemon, or ``GENROPY_REGISTER=local|redis``), which queues them on every page
subscribed to that table; the page collects its queue when it pings. The register is shared by
every process and pod of a site, so the events of any of them reach every page.

The feed is one such page per server process (``FeedPage``, named ``PAGE_NAME``): it subscribes to
the tables its clients watch and collects its queue every ``POLL_SECONDS`` on a thread of its own
(``ChangeHub``), then hands each collection, one ``Batch`` shared by every client of this process
watching a table in it, to those clients (a client more than ``MAX_BATCHES`` collections behind is
dropped, never buffered without end; a batch is kept once however many clients hold it). The page
belongs to a connection of its own (user ``FEED_USER``, with its folder in the site's
``_connections``, as a browser's), so GenroPy's own cleanup treats it as it treats a browser's
page: refreshed while the process lives, dropped ``page_max_age`` (600 s) after a process that
died, so no dead page keeps collecting. A process that stops drops its own.

What arrives is what GenroPy broadcasts: commits made by a GenroPy site process (its pages and
RPCs, this bridge's writes, its batches) on tables whose ``broadcast`` attribute is not ``False``.
Not raw SQL, scripts outside a site (a plain ``GnrApp``), or other programs writing the database.
At most once, no replay: a client that reconnects reads again what it needs.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("genropy_asgi")

PAGE_NAME = "genropy_asgi_data_changes"
FEED_USER = "_genropy_asgi_data_changes"
POLL_SECONDS = 0.25
REFRESH_SECONDS = 10.0
MAX_BATCHES = 240  # a minute of collections
CHANGES_PATH = "gnr.dbchanges."
EVENT_NAMES = {"I": "insert", "U": "update", "D": "delete"}


class FeedUnavailable(Exception):
    """The site register cannot be reached (or there is none: a database without a site)."""


@dataclass(frozen=True)
class Batch:
    """One collection's changes (``number`` names it: what clients of the same rights share)."""

    number: int
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Change:
    table: str
    event: str  # insert, update, delete
    pkey: Any
    old_pkey: Any = None  # the key before an update changed it


def table_code(table: str) -> str:
    """GenroPy's name of a table's changes in the register (``gnr.dbchanges.pkg_table``)."""
    return table.replace(".", "_")


def broadcasts(table_attributes: dict[str, Any]) -> bool:
    """Whether GenroPy sends this table's changes to the register at all (``broadcast``)."""
    setting = table_attributes.get("broadcast")
    return setting is not False and setting != "*old*"


def changes_from(datachanges: Iterable[Any] | None, tables_by_code: dict[str, str]) -> list[Change]:
    """GenroPy's queued datachanges (``ClientDataChange``) as ``Change``s of the watched tables."""
    found = []
    for datachange in datachanges or ():
        path = str(getattr(datachange, "path", "") or "")
        table = tables_by_code.get(path[len(CHANGES_PATH):]) if path.startswith(CHANGES_PATH) else None
        if table is None:
            continue
        for event in getattr(datachange, "value", None) or ():
            kind = EVENT_NAMES.get(str(event.get("dbevent"))) if isinstance(event, dict) else None
            if kind is not None:
                found.append(Change(table, kind, event.get("pkey"), event.get("old_pkey")))
    return found


class FeedPage:
    """Blocking, one thread at a time: this process's page in the site register, through the
    register's own calls (``new_connection``, ``new_page``, ``subscribeTable``,
    ``subscription_storechanges``...). ``tables`` are the tables the register has subscribed."""

    def __init__(self, register: Any, connections_folder: str | None) -> None:
        self.register = register
        self.page_id = f"dataapi-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.connection_id = f"{self.page_id}-connection"
        self.folder = os.path.join(connections_folder, self.connection_id) if connections_folder else None
        self.tables: set[str] = set()
        self.opened = False
        self.refreshed = 0.0

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.register.siteregister, name)(*args, **kwargs)
        except Exception as exc:  # Pyro's, Redis's, a stopped daemon's: one kind for the caller
            raise FeedUnavailable(f"the site register did not answer {name}: {type(exc).__name__}") from exc

    def _open(self) -> None:
        if not self._call("connection", self.connection_id):
            self._call("new_connection", self.connection_id, connection_name=PAGE_NAME, user=FEED_USER,
                       user_name=FEED_USER, user_tags="", user_ip="127.0.0.1", user_agent=PAGE_NAME)
        if self.folder is not None:  # where GenroPy's cleanup finds the connections it expires
            os.makedirs(self.folder, exist_ok=True)
        self._call("new_page", self.page_id, pagename=PAGE_NAME, connection_id=self.connection_id, user=FEED_USER)
        self.opened = True
        self.refreshed = time.monotonic()
        for table in sorted(self.tables):  # new_page takes subscribed_tables but does not pass them on
            self._call("subscribeTable", self.page_id, table, True)

    def watch(self, table: str) -> None:
        """The register subscribes ``table`` (``tables`` changes only once it has)."""
        if not self.opened:
            self._open()
        self._call("subscribeTable", self.page_id, table, True)
        self.tables.add(table)

    def unwatch(self, table: str, tables_by_code: dict[str, str]) -> list[Change]:
        """The register drops ``table``; what was queued for it is collected and left out (never
        handed to a later subscriber); the other tables' changes are returned. The last table
        closes the page."""
        self.tables.discard(table)
        if not self.tables:
            self.close()
            return []
        self._call("subscribeTable", self.page_id, table, False)
        return self.collect(tables_by_code)

    def collect(self, tables_by_code: dict[str, str]) -> list[Change]:
        if not self.opened:
            return []
        queued = self._call("subscription_storechanges", FEED_USER, self.page_id)
        now = time.monotonic()
        if queued is None and not self._call("page", self.page_id):
            logger.warning("data bridge: the site register lost the change feed's page (restarted?): "
                           "subscribing again; changes in between are not seen")
            self._open()
        if now - self.refreshed > REFRESH_SECONDS:  # the page, its connection and user: alive
            self._call("refresh", self.page_id)
            self.refreshed = now
        return changes_from(queued, tables_by_code)

    def close(self) -> None:
        """The page and its connection leave the register (``opened`` stays set until they have)."""
        if self.opened:
            self._call("drop_connection", self.connection_id, cascade=True)
            self.opened = False
            self.tables.clear()
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)


class Subscriber:
    """One client's view of one table's changes (asyncio side): the batches that concern it."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.batches: deque[Batch] = deque()
        self.overflowed = asyncio.Event()
        self.wake = asyncio.Event()

    def offer(self, batch: Batch) -> None:
        if len(self.batches) >= MAX_BATCHES:
            self.overflowed.set()
        else:
            self.batches.append(batch)
        self.wake.set()

    def drain(self) -> list[Batch]:
        found = list(self.batches)
        self.batches.clear()
        return found


class ChangeHub:
    """The process's subscribers by table, fed by one ``FeedPage`` polled on a thread of its own.
    A table's first subscriber waits for the register's subscription (and so do the ones arriving
    meanwhile); a failure fails them all and leaves nothing subscribed."""

    def __init__(self, site_provider: Callable[[], Any], poll_seconds: float = POLL_SECONDS) -> None:
        self.site_provider = site_provider
        self.poll_seconds = poll_seconds
        self.subscribers: dict[str, set[Subscriber]] = {}
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="data-changes")
        self._page: FeedPage | None = None
        self._task: asyncio.Task[None] | None = None
        self._subscribing: dict[str, asyncio.Future[None]] = {}
        self._batches = 0
        self._lock = threading.Lock()

    def _feed(self) -> FeedPage:
        with self._lock:
            if self._page is None:
                site = self.site_provider()
                if site is None:
                    raise FeedUnavailable("no site register here (a database without a GenroPy site)")
                self._page = FeedPage(site.register, getattr(site, "allConnectionsFolder", None))
                atexit.register(self.close)
            return self._page

    async def _blocking(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    def codes(self) -> dict[str, str]:
        return {table_code(table): table for table in self.subscribers}

    def clashes(self, table: str) -> bool:
        """Two watched tables GenroPy would name alike (``a_b.c``, ``a.b_c``): refused, never mixed."""
        known = self.codes().get(table_code(table))
        return known is not None and known != table

    async def subscribe(self, table: str) -> Subscriber:
        """Raises ``FeedUnavailable`` when the register cannot subscribe the table."""
        while table not in self.subscribers:
            pending = self._subscribing.get(table)
            if pending is not None:
                await asyncio.shield(pending)  # its failure is ours too
                continue
            pending = self._subscribing[table] = asyncio.get_running_loop().create_future()
            try:
                await self._blocking(lambda: self._feed().watch(table))
            except BaseException as exc:
                pending.set_exception(exc if isinstance(exc, Exception) else FeedUnavailable("cancelled"))
                pending.exception()  # retrieved: no "never retrieved" warning when nobody else waits
                raise
            finally:
                del self._subscribing[table]
            self.subscribers[table] = set()
            pending.set_result(None)
        subscriber = Subscriber(table)
        self.subscribers[table].add(subscriber)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll(), name="data-api-changes")
        return subscriber

    async def unsubscribe(self, subscriber: Subscriber) -> None:
        watchers = self.subscribers.get(subscriber.table)
        if watchers is None:
            return
        watchers.discard(subscriber)
        if watchers:
            return
        del self.subscribers[subscriber.table]
        codes = self.codes()
        try:
            changes = await self._blocking(lambda: self._feed().unwatch(subscriber.table, codes))
        except FeedUnavailable as exc:
            logger.warning("data bridge: change feed: %s", exc)
            return
        self._hand_out(changes)

    def _hand_out(self, changes: list[Change]) -> None:
        if not changes:
            return
        self._batches += 1
        batch = Batch(self._batches, tuple(changes))
        for table in {change.table for change in changes}:
            for subscriber in tuple(self.subscribers.get(table, ())):
                subscriber.offer(batch)

    async def _poll(self) -> None:
        """While anyone watches, or a page is left to close: collect, hand out, sleep."""
        complained = False
        while True:
            page = self._page
            if not self.subscribers:
                if page is None or not page.opened:
                    return
                try:  # the last unsubscription could not close it: try again, then stop
                    await self._blocking(page.close)
                except FeedUnavailable:
                    await asyncio.sleep(self.poll_seconds * 20)
                continue
            try:
                changes = await self._blocking(lambda: self._feed().collect(self.codes()))
                complained = False
            except Exception as exc:  # whatever the register or GenroPy raise, the loop lives on
                if not complained:
                    logger.warning("data bridge: change feed: %s (trying again)", exc)
                complained, changes = True, []
            self._hand_out(changes)
            await asyncio.sleep(self.poll_seconds)

    def close(self) -> None:
        """At shutdown: this process's page leaves the register."""
        page = self._page
        if page is not None:
            try:
                page.close()
            except FeedUnavailable:
                pass
