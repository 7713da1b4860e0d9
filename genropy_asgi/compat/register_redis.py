"""GenroPy's site register with its state in Redis or Valkey (``GENROPY_REGISTER=redis``).

Why this exists: GenroPy keeps the register (users, connections, pages, their stores, the
datachanges pages receive) in gnrdaemon, one process answering every web process and pod on
one Pyro thread: the ceiling, the single point of failure and a pickle endpoint of the
scaled topology (bench/RESULTS.md, "Register"). ``local`` (``compat.register_hosted``) removes
the round trip for one process; this is for several processes and pods.

What it does, in every process of a site with ``GENROPY_REGISTER=redis`` (web workers,
``gnr web async``, task workers, ``gnr`` commands): the first ``SiteRegisterClient`` builds
GenroPy's own ``SiteRegister`` (the class gnrdaemon runs: the same code, the same semantics),
whose dictionaries are replaced by views of objects in Redis (``compat.redis_objects``).
Each register call runs as one optimistic transaction: on the objects this process last saw,
checked and written back in one atomic round trip, run again when another process changed
what it read. Arguments and answers are copied by pickling, as Pyro copies them. GenroPy's
``RemoteStoreBag`` (a page's store) goes through the same transactions.

What GenroPy writes and nobody reads stays in the process (``itemsTS``, the stamp of each
``get_item``), so a read stays a read. Saving and loading the registers (``register_store``)
does not apply: Redis is the store (its own persistence, AOF or RDB, decides what a Redis
restart keeps).

Settings: ``GENROPY_REDIS_URL`` (``redis://`` or ``rediss://`` for TLS; secret, ``_FILE``),
``GENROPY_REDIS_PASSWORD`` (secret), ``GENROPY_REDIS_PREFIX`` (keys' prefix, default
``genropy``). Values are signed with the site's gnrdaemon HMAC key: every process and pod
of a site needs the same one (``GNR_DAEMON_HMAC_KEY``).

When to drop it: when GenroPy's register has a shared backend of its own.
``tests/compat/test_register_redis.py`` fails the day GenroPy changes what this builds on
(``SiteRegister``'s and ``BaseRegister``'s attributes, ``SiteRegisterClient.__init__``).
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time
from types import ModuleType
from typing import Any

from genropy_asgi.compat import redis_objects
from genropy_asgi.compat.register_hosted import BAG_METHODS, mode

URL_VARIABLE = "GENROPY_REDIS_URL"
PASSWORD_VARIABLE = "GENROPY_REDIS_PASSWORD"
PREFIX_VARIABLE = "GENROPY_REDIS_PREFIX"
DEFAULT_PREFIX = "genropy"
REGISTERS = ("global", "page", "connection", "user")  # GenroPy's SiteRegister.<name>_register

_registers: dict[str, SharedRegister] = {}
_registers_lock = threading.Lock()


class RegisterUnreachable(RuntimeError):
    """The register's server does not answer at start (one line: the URL and password stay out)."""


def say(message: str) -> None:
    print(f"genropy-asgi: register: {message}", file=sys.stderr, flush=True)


def secret(name: str, environ: Any = os.environ) -> str:
    """``NAME`` or the content of ``NAME_FILE`` (the settings' rule)."""
    from genropy_asgi import settings

    def read_file(path: str) -> str | None:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    return settings.read_secret(environ, name, read_file) or ""


def redis_client(environ: Any = os.environ) -> Any:
    """A client as the settings say, retrying a lost connection for about two seconds."""
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    url = secret(URL_VARIABLE, environ)
    if not url:
        raise RuntimeError(f"GENROPY_REGISTER=redis needs {URL_VARIABLE} (redis://HOST:6379/0, rediss:// for TLS)")
    options: dict[str, Any] = {
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 8),
        "retry_on_error": [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError],
        "socket_timeout": 10, "socket_connect_timeout": 5, "health_check_interval": 30,
    }
    password = secret(PASSWORD_VARIABLE, environ)
    if password:
        options["password"] = password
    return redis.Redis.from_url(url, **options)


def key_prefix(sitename: str, environ: Any = os.environ) -> str:
    """``<prefix>:{<site>}``: one hash tag per site, so a site's keys share a Cluster slot."""
    prefix = (environ.get(PREFIX_VARIABLE) or "").strip() or DEFAULT_PREFIX
    return f"{prefix}:{{{sitename}}}"


class NoPyro:
    """What GenroPy's ``SiteRegister.__init__`` expects of its server: here, no Pyro daemon."""

    class daemon:  # noqa: N801  (GenroPy's attribute name)
        @staticmethod
        def register(*args: Any, **kwargs: Any) -> None:
            return None

    gnr_daemon_uri = None

    def __init__(self, hmac_key: str) -> None:
        self.hmac_key = hmac_key


class TransactionProxy:
    """What a Pyro proxy to ``target`` gives: a call with copied arguments and answer, here one
    transaction of ``store`` (run again on fresh objects when it met newer ones)."""

    def __init__(self, target: Any, store: redis_objects.Store, hooks: dict[str, Any]) -> None:
        self._target, self._store, self._hooks = target, store, hooks

    def __enter__(self) -> TransactionProxy:  # ``with proxy as p`` (GenroPy's RemoteStoreBag)
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") and name not in BAG_METHODS:
            raise AttributeError(name)
        target, store, hooks = self._target, self._store, self._hooks

        def call(*args: Any, **kwargs: Any) -> Any:
            sent = pickle.dumps((args, kwargs), redis_objects.PICKLE)

            def attempt() -> bytes:
                args_copy, kwargs_copy = pickle.loads(sent)
                return pickle.dumps(getattr(target, name)(*args_copy, **kwargs_copy), redis_objects.PICKLE)

            return pickle.loads(store.run(attempt, hooks))

        return call


class SharedRegister:
    """One site's GenroPy ``SiteRegister`` in this process, its state in Redis."""

    def __init__(self, site: Any, register_module: ModuleType, hmac_key: str, client: Any = None) -> None:
        self.sitename = site.currentDomainIdentifier
        self.hmac_key = hmac_key
        self.client = client if client is not None else redis_client()
        self.store = redis_objects.Store(self.client, key_prefix(self.sitename), hmac_key.encode())
        self.register = build_site_register(register_module, self.store, hmac_key, self.sitename)
        self.hooks = data_hooks(self.register)
        self.proxy = TransactionProxy(self.register, self.store, self.hooks)
        self.remotebag_proxy = TransactionProxy(self.register.remotebag_handler, self.store, self.hooks)
        global_register = self.register.global_register
        import redis

        from genropy_asgi.compat.register_client import wait_seconds

        deadline = time.monotonic() + wait_seconds()  # a server started alongside (GENROPY_DAEMON_WAIT)
        while True:
            try:
                self.store.run(lambda: global_register.exists("*") or global_register.create("*"), self.hooks)
                break
            except redis.exceptions.AuthenticationError as exc:
                raise unreachable(exc) from None
            except redis.exceptions.RedisError as exc:
                if time.monotonic() >= deadline:
                    raise unreachable(exc) from None
                time.sleep(0.5)


def unreachable(exc: Exception) -> RegisterUnreachable:
    reason = " ".join(str(exc).split())[:200] or type(exc).__name__
    return RegisterUnreachable(f"GENROPY_REGISTER=redis: the register's server (GENROPY_REDIS_URL) does not "
                               f"answer: {type(exc).__name__}: {reason}")


def build_site_register(register_module: ModuleType, store: redis_objects.Store, hmac_key: str,
                        sitename: str) -> Any:
    """GenroPy's ``SiteRegister``, its state moved to ``store``."""

    class SharedSiteRegister(register_module.SiteRegister):  # type: ignore[name-defined,misc]
        last_cleanup = redis_objects.Attribute("last_cleanup", int)  # claim_cleanup's check-and-set
        interproces_commands = redis_objects.Attribute("interproces_commands", dict)

        def counters(self) -> dict[str, int]:
            """GenroPy's answer (how many users, connections, pages), from the indexes: GenroPy's
            loads every item to count them (the readiness check and the metrics ask it)."""
            return {"users": len(self.user_register.registerItems),
                    "connections": len(self.connection_register.registerItems),
                    "pages": len(self.page_register.registerItems)}

    register = SharedSiteRegister(NoPyro(hmac_key), sitename=sitename)
    register.__dict__["_genropy_asgi_store"] = store
    for name in REGISTERS:
        bind_register(getattr(register, f"{name}_register"), store, name)
    pages_by_connection(register.page_register, store)
    return register


class ConnectionPages:
    """What GenroPy's ``PageRegister.pages`` reads of its register (``values``), limited to one
    connection's pages: GenroPy's own filtering then runs on them."""

    def __init__(self, register: Any, connection_id: str) -> None:
        self.register, self.connection_id = register, connection_id

    def values(self, include_data: Any = False) -> list[Any]:
        items = self.register.registerItems.group_items(self.connection_id)
        if not include_data:
            return [item for _, item in items]
        return [self.register.get_item(key, include_data=True) for key, _ in items]


def pages_by_connection(page_register: Any, store: redis_objects.Store) -> None:
    """Pages indexed by their connection (a page's ``connection_id`` never changes): every RPC
    asks for its connection's pages (``validate_page_id``), and a dropped page for its
    connection's others. GenroPy scans every page of the site for them: here, one index read
    and that connection's pages."""
    page_register.registerItems = redis_objects.Mapping(store, "page:items",
                                                        group=lambda item: item.get("connection_id"))
    genropys_pages = type(page_register).pages

    def pages(connection_id: Any = None, user: Any = None, include_data: Any = None, filters: Any = None) -> Any:
        if not connection_id:
            return genropys_pages(page_register, user=user, include_data=include_data, filters=filters)
        return genropys_pages(ConnectionPages(page_register, str(connection_id)), connection_id=connection_id,
                              user=user, include_data=include_data, filters=filters)

    def connection_page_items(connection_id: Any) -> list[tuple[str, Any]]:
        items: list[tuple[str, Any]] = page_register.registerItems.group_items(str(connection_id))
        return items

    def connection_page_keys(connection_id: Any) -> list[str]:
        return [key for key, _ in connection_page_items(connection_id)]

    page_register.pages = pages
    page_register.connection_page_items = connection_page_items
    page_register.connection_page_keys = connection_page_keys


def bind_register(register: Any, store: redis_objects.Store, name: str) -> None:
    """A ``BaseRegister``'s dictionaries as views of ``store`` (GenroPy's attribute names)."""
    register.registerItems = redis_objects.Mapping(store, f"{name}:items")
    register.itemsData = redis_objects.Mapping(store, f"{name}:data")
    register.itemsTS = redis_objects.Discard()
    register.locked_items = redis_objects.Mapping(store, f"{name}:locks")
    register.cached_tables = redis_objects.Mapping(store, f"{name}:cached_tables", default_factory=dict)
    if hasattr(register, "pageProfilers"):
        register.pageProfilers = redis_objects.Mapping(store, f"{name}:profilers")


def data_hooks(site_register: Any) -> dict[str, Any]:
    """An item's store, loaded from Redis, tells its register of changes again, as GenroPy's
    ``addRegisterItem`` made it do (a pickled Bag forgets its subscribers)."""
    hooks = {}
    for name in REGISTERS:
        register = getattr(site_register, f"{name}_register")

        def hook(item_id: str, data: Any, register: Any = register) -> None:
            def changed(**kwargs: Any) -> None:
                item = register.registerItems.get(item_id)
                if item is not None:
                    register._on_data_trigger(register_item=item, **kwargs)

            if data.backref:  # a pickled Bag's inner Bags forget their parents: events stop at them
                data.clearBackRef()
                data.setBackRef()
            data.subscribe("datachanges", any=changed)

        hooks[f"{name}:data"] = hook
    return hooks


def shared_register(site: Any, register_module: ModuleType, hmac_key: str) -> SharedRegister:
    name = site.currentDomainIdentifier
    with _registers_lock:
        found = _registers.get(name)
        if found is None:
            found = _registers[name] = SharedRegister(site, register_module, hmac_key)
            say(f"{name}'s register is kept in Redis ({found.store.prefix}), shared by every process of the site")
        return found


def scope_requests(site: Any, store: redis_objects.Store) -> None:
    """Each request GenroPy's site serves runs in ``store.request_scope()`` (its checked objects
    are not checked again for a moment: ``redis_objects``). The site's ``wsgiapp`` (what
    ``GnrWsgiSite.__call__`` calls), wrapped once."""
    app = getattr(site, "wsgiapp", None)
    if app is None or getattr(app, "genropy_asgi_request_scope", False):
        return

    def scoped(environ: Any, start_response: Any) -> Any:
        with store.request_scope():
            return app(environ, start_response)

    scoped.genropy_asgi_request_scope = True  # type: ignore[attr-defined]
    scoped.__wrapped__ = app  # type: ignore[attr-defined]
    site.wsgiapp = scoped


def patch_client_module(module: Any) -> None:
    client_class = module.SiteRegisterClient
    original_init, original_add_data = client_class.__init__, client_class.add_data_to_register_item
    from gnr.web.daemon import siteregister as register_module

    class RedisStoreBag(module.RemoteStoreBag):  # type: ignore[misc]
        """GenroPy's RemoteStoreBag on the shared register (a transaction, no Pyro)."""

        def __init__(self, shared: SharedRegister, register_name: Any, register_item_id: Any,
                     rootpath: Any = None) -> None:
            self.shared = shared
            self.register_name, self.register_item_id, self.rootpath = register_name, register_item_id, rootpath
            self.uri, self.hmac_key = None, shared.hmac_key
            self.proxy = shared.remotebag_proxy

        def chunk(self, path: Any) -> Any:
            return RedisStoreBag(self.shared, self.register_name, self.register_item_id, self.rootpath)

    def init(self: Any, site: Any) -> None:
        if mode() != "redis":
            original_init(self, site)
            return
        daemon_config = site.config.getAttr("gnrdaemon") or {}
        shared = shared_register(site, register_module, daemon_config.get("hmac_key") or "supersecretkey")
        self.locked_exception = register_module.GnrDaemonLocked
        self.site = site
        self.errors = module.Pyro4.errors
        self.storage_path = None
        self.hmac_key = shared.hmac_key
        self.siteregisterserver_uri = self.siteregister_uri = self.remotebag_uri = None
        self.shared = shared
        self.siteregister = shared.proxy
        self.siteregister.setConfiguration(cleanup=site.custom_config.getAttr("cleanup"))
        scope_requests(site, shared.store)

    def add_data(self: Any, register_item: Any) -> None:
        shared = self.__dict__.get("shared")
        if shared is None:
            original_add_data(self, register_item)
            return
        register_item["data"] = RedisStoreBag(shared, register_item["register_name"],
                                              register_item["register_item_id"])

    init.__wrapped__ = original_init  # type: ignore[attr-defined]  # the previous one, for the guard test
    add_data.__wrapped__ = original_add_data  # type: ignore[attr-defined]
    client_class.__init__ = init
    client_class.add_data_to_register_item = add_data
    module.GENROPY_ASGI_REGISTER_REDIS_COMPAT = "redis"
