"""The change stream's source: GenroPy's own database events, from every process and pod.

How GenroPy tells an open page what others committed: after a commit, the site process that
committed sends each table's events (insert, update, delete, with the record's key) to the site
register (gnrdaemon, or ``GENROPY_REGISTER=local|redis``), which queues them on every page
subscribed to that table; the page collects its queue when it pings. The register is shared by
every process and pod of a site, so the events of any of them reach every page.

The feed is one such page per server process (``FeedPage``, named ``PAGE_NAME``): it subscribes to
the tables its clients watch and collects its queue every ``POLL_SECONDS`` on a thread of its own
(``ChangeHub``), then hands each change to the clients of this process watching that table, each
through a bounded queue (a client that falls ``MAX_QUEUED`` changes behind is dropped, never
buffered without end). The page belongs to a connection of its own (user ``FEED_USER``, with its
folder in the site's ``_connections``, as a browser's), so GenroPy's own cleanup treats it as it
treats a browser's page: refreshed while the process lives, dropped ``page_max_age`` (600 s) after
a process that died, so no dead page keeps collecting. A process that stops drops its own.

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
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("genropy_asgi")

PAGE_NAME = "genropy_asgi_data_changes"
FEED_USER = "_genropy_asgi_data_changes"
POLL_SECONDS = 0.25
REFRESH_SECONDS = 10.0
MAX_QUEUED = 1000
CHANGES_PATH = "gnr.dbchanges."
EVENT_NAMES = {"I": "insert", "U": "update", "D": "delete"}


class FeedUnavailable(Exception):
    """The site register cannot be reached (or there is none: a database without a site)."""


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
    register's own calls (``new_page``, ``subscribeTable``, ``subscription_storechanges``...)."""

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
        for table in sorted(self.tables):  # new_page takes subscribed_tables but does not pass them on
            self._call("subscribeTable", self.page_id, table, True)
        self.opened = True
        self.refreshed = time.monotonic()

    def watch(self, table: str, on: bool) -> None:
        if on:
            self.tables.add(table)
        else:
            self.tables.discard(table)
        if not self.opened:
            if self.tables:
                self._open()
            return
        self._call("subscribeTable", self.page_id, table, on)
        if not self.tables:
            self.close()

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
        if self.opened:
            self.opened = False
            self._call("drop_connection", self.connection_id, cascade=True)
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)


class Subscriber:
    """One client's view of one table's changes (asyncio side)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.queue: asyncio.Queue[Change] = asyncio.Queue(MAX_QUEUED)
        self.overflowed = asyncio.Event()
        self.wake = asyncio.Event()

    def offer(self, change: Change) -> None:
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.overflowed.set()
        self.wake.set()

    def drain(self) -> list[Change]:
        found = []
        while not self.queue.empty():
            found.append(self.queue.get_nowait())
        return found


class ChangeHub:
    """The process's subscribers by table, fed by one ``FeedPage`` polled on a thread of its own."""

    def __init__(self, site_provider: Callable[[], Any], poll_seconds: float = POLL_SECONDS) -> None:
        self.site_provider = site_provider
        self.poll_seconds = poll_seconds
        self.subscribers: dict[str, set[Subscriber]] = {}
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="data-changes")
        self._page: FeedPage | None = None
        self._task: asyncio.Task[None] | None = None
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
        subscriber = Subscriber(table)
        first = table not in self.subscribers
        self.subscribers.setdefault(table, set()).add(subscriber)
        if first:
            try:
                await self._blocking(lambda: self._feed().watch(table, True))
            except FeedUnavailable:
                self.subscribers[table].discard(subscriber)
                if not self.subscribers[table]:
                    del self.subscribers[table]
                raise
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll(), name="data-api-changes")
        return subscriber

    async def unsubscribe(self, subscriber: Subscriber) -> None:
        watchers = self.subscribers.get(subscriber.table)
        if watchers is None:
            return
        watchers.discard(subscriber)
        if not watchers:
            del self.subscribers[subscriber.table]
            try:
                await self._blocking(lambda: self._feed().watch(subscriber.table, False))
            except FeedUnavailable as exc:
                logger.warning("data bridge: %s", exc)

    async def _poll(self) -> None:
        complained = False
        while self.subscribers:
            try:
                changes = await self._blocking(lambda: self._feed().collect(self.codes()))
                complained = False
            except FeedUnavailable as exc:
                if not complained:
                    logger.warning("data bridge: change feed: %s (trying again)", exc)
                complained, changes = True, []
            for change in changes:
                for subscriber in tuple(self.subscribers.get(change.table, ())):
                    subscriber.offer(change)
            await asyncio.sleep(self.poll_seconds)

    def close(self) -> None:
        """At shutdown: this process's page leaves the register."""
        page = self._page
        if page is not None:
            try:
                page.close()
            except FeedUnavailable:
                pass
