"""GenroPy's site register inside the web server's own process (``GENROPY_REGISTER=local``).

Why this exists: every GenroPy request makes several calls to the site register
(sessions, connections, pages). GenroPy keeps it in gnrdaemon's register process and
reaches it over Pyro, whose multiplex server answers every caller on ONE thread: in
our profiles 67 % of the web server's samples wait for those replies, the ceiling of a
site however many threads serve it (bench/RESULTS.md, "Register").

What it does, in a process that called ``host_in_this_process()`` (gnrasgiserve with one
process, when ``GENROPY_REGISTER`` is ``local``):
- the first ``SiteRegisterClient`` builds GenroPy's own ``SiteRegister`` (the same class
  gnrdaemon runs, so the same semantics) in this process, and calls it directly:
  one call at a time (GenroPy relies on its daemon's single thread for atomicity, e.g.
  ``claim_cleanup``) with arguments and answers copied by pickling, as Pyro copies them,
  so no caller ever holds the register's own objects;
- the other programs of the site (``gnr web async``, task workers, ``gnr`` commands)
  reach the same register over Pyro on a Unix socket that only this user can open,
  announced in the site folder's ``sitedaemon.xml``: GenroPy's own way for a site to have
  a register of its own (``SiteRegisterClient`` reads that file before asking gnrdaemon);
- the registers are saved as gnrdaemon's are (``compat.register_store``'s authenticated
  format), within a second of a change (``GENROPY_REGISTER_SNAPSHOT=0``: only at exit) and
  at exit, and loaded at start, so a restarted server, even one killed, keeps its users
  logged in.

In a process that did not call it, with ``GENROPY_REGISTER=local``, a client waits (up to
``GENROPY_DAEMON_WAIT``) for the announcement instead of asking gnrdaemon, which would
start a second, empty register. A second server of the same site, started while the first
one runs, uses the first one's register the same way (and says so). Anywhere else GenroPy's
client is unchanged.

When to drop it: never while GenroPy keeps its register behind Pyro;
``tests/compat/test_register_hosted.py`` fails the day GenroPy changes what this builds on
(``SiteRegister``, ``GnrSiteRegisterServer.start``, ``RemoteStoreBag``, the
``sitedaemon.xml`` lookup of ``SiteRegisterClient.__init__``).
"""

from __future__ import annotations

import atexit
import os
import pickle
import re
import socket
import sys
import threading
import time
from types import ModuleType
from typing import Any

TARGET_MODULE = "gnr.web.daemon.siteregister_client"
VARIABLE = "GENROPY_REGISTER"
ANNOUNCEMENT = "sitedaemon.xml"  # GenroPy's name (SiteRegisterClient.__init__)
MARK = "genropy_asgi"  # our announcements say so (stale ones are removed at a container's start)
SAVE_NAME = "genropy-asgi-register.pik"
CHANGED_SAVE = 1.0  # seconds: the register is saved (in the site folder unless GENROPY_REGISTER_STORE) this long after a change

# what GenroPy's RemoteStoreBag calls on its proxy besides plain names (Pyro allows these dunders)
BAG_METHODS = frozenset({"__getitem__", "__setitem__", "__len__", "__contains__", "__eq__"})

_hosting = False
_registers: dict[str, HostedRegister] = {}
_registers_lock = threading.Lock()


def host_in_this_process() -> None:
    """This process keeps the site's register (gnrasgiserve serving in one process)."""
    global _hosting
    _hosting = True


def hosting() -> bool:
    return _hosting


def mode(environ: Any = os.environ) -> str:
    """``GENROPY_REGISTER``: ``local``, ``redis`` or ``pyro`` (a bad value here: ``pyro``, the entrypoint
    and gnrasgiserve refuse it)."""
    asked = environ.get(VARIABLE, "").strip().lower()
    return asked if asked in ("local", "redis") else "pyro"


def say(message: str) -> None:
    print(f"genropy-asgi: register: {message}", file=sys.stderr, flush=True)


class Calls:
    """How many calls the register answered: the snapshots save only after a change."""

    def __init__(self) -> None:
        self.count = 0


class Serialized:
    """``target``'s methods called one at a time under ``lock``: what Pyro's one thread gave
    GenroPy's register. Exposed to the other programs over Pyro (which copies by itself)."""

    def __init__(self, target: Any, lock: threading.RLock, calls: Calls | None = None) -> None:
        self._target, self._lock, self._calls = target, lock, calls or Calls()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") and name not in BAG_METHODS:
            raise AttributeError(name)
        method = getattr(self._target, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self._calls.count += 1
                return method(*args, **kwargs)

        return call


class CopyingProxy:
    """What a Pyro proxy to ``target`` gives this process, without the network: one call at a
    time, the arguments and the answer copies (pickled, as Pyro sends them)."""

    def __init__(self, target: Any, lock: threading.RLock, calls: Calls | None = None) -> None:
        self._target, self._lock, self._calls = target, lock, calls or Calls()

    def __enter__(self) -> CopyingProxy:  # ``with proxy as p`` (GenroPy's RemoteStoreBag)
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") and name not in BAG_METHODS:
            raise AttributeError(name)
        target, lock, calls = self._target, self._lock, self._calls

        def call(*args: Any, **kwargs: Any) -> Any:
            sent = pickle.dumps((args, kwargs), pickle.HIGHEST_PROTOCOL)
            with lock:
                calls.count += 1
                args_copy, kwargs_copy = pickle.loads(sent)
                answer = pickle.dumps(getattr(target, name)(*args_copy, **kwargs_copy), pickle.HIGHEST_PROTOCOL)
            return pickle.loads(answer)

        return call


class HostedRegister:
    """One site's register in this process, served to the others on a Unix socket."""

    def __init__(self, site: Any, register_module: ModuleType, hmac_key: str) -> None:
        from genropy_asgi.compat import register_store

        self.sitename = site.currentDomainIdentifier
        self.lock = threading.RLock()
        self.calls = Calls()
        self.announcement = os.path.join(site.site_path, ANNOUNCEMENT)
        store = os.environ.get(register_store.STORE_VARIABLE, "").strip()
        # register_store's patch of GnrSiteRegisterServer moves the save into its folder
        self.server = register_module.GnrSiteRegisterServer(
            sitename=self.sitename, storage_path=os.path.join(site.site_path, SAVE_NAME))
        self.save_path = (register_store.store_path(store, self.sitename) if store
                          else os.path.join(site.site_path, SAVE_NAME))
        # a stable address: the other programs' proxies reconnect to a restarted server by themselves
        self.socket_path = socket_path = register_socket(self.sitename)
        remove_quietly(socket_path)
        self.server.start(socket=socket_path, hmac_key=hmac_key, multiplex=True, run_now=False)
        self.register = self.server.siteregister
        daemon = self.server.daemon
        for name in ("SiteRegisterServer", "SiteRegister", "RemoteData"):
            daemon.unregister(name)  # GenroPy registered the raw objects: the others go through the lock
        self.register_uri = str(daemon.register(Serialized(self.register, self.lock, self.calls), "SiteRegister"))
        daemon.register(Serialized(self.register.remotebag_handler, self.lock, self.calls), "RemoteData")
        self.main_uri = self.register_uri.replace(":SiteRegister@", ":SiteRegisterServer@")
        self.hmac_key = hmac_key
        if os.path.exists(self.save_path):
            with self.lock:
                register_store.load_registers(self.register, self.save_path)
        self.running = True
        threading.Thread(target=daemon.requestLoop, args=(lambda: self.running,),
                         name="register-for-others", daemon=True).start()
        self.announce()
        every = register_store.snapshot_seconds()
        if every:
            threading.Thread(target=self._snapshots, args=(min(every, CHANGED_SAVE),), name="register-snapshots",
                             daemon=True).start()
        atexit.register(self.stop)

    def announce(self) -> None:
        """``sitedaemon.xml`` as GenroPy's client reads it (``params``: pid, main_uri, register_uri)."""
        from gnr.core.gnrbag import Bag

        bag = Bag()
        bag.setItem("params", None, pid=os.getpid(), main_uri=self.main_uri, register_uri=self.register_uri,
                    host=socket.gethostname(), **{MARK: True})
        temporary = f"{self.announcement}.{os.getpid()}.tmp"
        bag.toXml(temporary)
        os.replace(temporary, self.announcement)

    def save(self, reason: str) -> None:
        from genropy_asgi.compat import register_store

        try:
            with self.lock:
                register_store.dump_registers(self.register, self.save_path)
        except Exception as exc:  # the next snapshot may succeed; never break a request
            say(f"saving the registers of {self.sitename} ({reason}) failed: {type(exc).__name__}: {exc}")

    def _snapshots(self, every: float) -> None:
        """A save within ``every`` seconds of a change: what a ``kill -9`` of the server can lose
        (gnrdaemon's register, in a process of its own, saves every GENROPY_REGISTER_SNAPSHOT)."""
        saved = self.calls.count
        while self.running:
            time.sleep(every)
            seen = self.calls.count
            if self.running and seen != saved:
                self.save("snapshot")
                saved = seen

    def stop(self) -> None:
        """At exit: no more calls from the others, the registers saved, the announcement gone."""
        if not self.running:
            return
        self.running = False
        self.save("stop")
        if announced_pid(self.announcement) == os.getpid():
            remove_quietly(self.announcement)
        try:
            self.server.daemon.shutdown()
        except Exception:
            pass
        remove_quietly(self.socket_path)


def register_socket(sitename: str) -> str:
    """The register's Unix socket, in a folder only this user can open: under ``GENROPY_SOCKETS``
    (the image's run folder, out of the config folder it copies), else GenroPy's config folder's ``sockets``."""
    from gnr.core.gnrconfig import gnrConfigPath

    base = os.environ.get("GENROPY_SOCKETS", "").strip() or os.path.join(gnrConfigPath(), "sockets")
    folder = os.path.join(base, "registers")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    if os.stat(folder).st_uid != os.getuid():  # made by someone else: they could listen in our place
        raise RuntimeError(f"GENROPY_REGISTER=local: {folder} belongs to another user; remove it")
    os.chmod(folder, 0o700)
    return os.path.join(folder, re.sub(r"[^A-Za-z0-9_.-]", "_", sitename or "site") + ".sock")


def process_alive(pid: int) -> bool:
    from psutil import pid_exists

    return bool(pid_exists(pid))


def announced_pid(path: str, anywhere: bool = False) -> int | None:
    """The pid written in a ``sitedaemon.xml`` of ours by a process of this host (``None``: none,
    not ours, or another pod's on a shared site folder, whose pid means nothing here)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    if MARK not in text:
        return None
    found = re.search(r'\bpid="(\d+)', text)
    host = re.search(r'\bhost="([^"]*)"', text)
    if not anywhere and (host is None or host.group(1) != socket.gethostname()):
        return None
    return int(found.group(1)) if found else None


def remove_stale_announcement(site_folder: str) -> bool:
    """A container's start: our ``sitedaemon.xml`` from a previous run goes (its pid may be
    anyone's now). GenroPy's own (no mark) is left alone."""
    path = os.path.join(site_folder, ANNOUNCEMENT)
    if announced_pid(path, anywhere=True) is None:
        return False
    remove_quietly(path)
    return True


def remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def hosted_register(site: Any, register_module: ModuleType, hmac_key: str) -> HostedRegister:
    name = site.currentDomainIdentifier
    with _registers_lock:
        found = _registers.get(name)
        if found is None:
            found = _registers[name] = HostedRegister(site, register_module, hmac_key)
            say(f"{name}'s register runs in this process (pid {os.getpid()}); the site's other programs "
                f"reach it through {found.announcement}")
        return found


def wait_for_announcement(site: Any, seconds: float) -> None:
    """Another program of a ``local`` site: the server announces its register; never ask gnrdaemon."""
    path = os.path.join(site.site_path, ANNOUNCEMENT)
    deadline = time.monotonic() + seconds
    while True:
        pid = announced_pid(path)
        if pid is not None and process_alive(pid):
            return
        if time.monotonic() >= deadline:
            raise RuntimeError(f"GENROPY_REGISTER=local: no web server announced the site's register in {path} "
                               f"within {seconds:g}s (GENROPY_DAEMON_WAIT); start the server first")
        time.sleep(0.2)


def patch_client_module(module: Any) -> None:
    client_class = module.SiteRegisterClient
    original_init, original_add_data = client_class.__init__, client_class.add_data_to_register_item
    from gnr.web.daemon import siteregister as register_module

    class LocalStoreBag(module.RemoteStoreBag):  # type: ignore[misc]
        """GenroPy's RemoteStoreBag on the register of this process (no Pyro round trip)."""

        def __init__(self, hosted: HostedRegister, register_name: Any, register_item_id: Any,
                     rootpath: Any = None) -> None:
            self.hosted = hosted
            self.register_name, self.register_item_id, self.rootpath = register_name, register_item_id, rootpath
            self.uri, self.hmac_key = self.hosted.register_uri, hosted.hmac_key
            self.proxy = CopyingProxy(hosted.register.remotebag_handler, hosted.lock, hosted.calls)

        def chunk(self, path: Any) -> Any:
            return LocalStoreBag(self.hosted, self.register_name, self.register_item_id, self.rootpath)

    def init(self: Any, site: Any) -> None:
        if mode() != "local":
            original_init(self, site)
            return
        if not _hosting:
            from genropy_asgi.compat.register_client import wait_seconds

            wait_for_announcement(site, wait_seconds())
            original_init(self, site)  # GenroPy's own: it finds sitedaemon.xml
            return
        other = announced_pid(os.path.join(site.site_path, ANNOUNCEMENT))
        if other is not None and other != os.getpid() and process_alive(other) and \
                site.currentDomainIdentifier not in _registers:
            say(f"another server (pid {other}) keeps {site.currentDomainIdentifier}'s register: this one uses it, "
                "and needs that server running")
            original_init(self, site)  # GenroPy's own: it finds sitedaemon.xml
            return
        if getattr(site, "multidomain", False):
            raise RuntimeError("GENROPY_REGISTER=local keeps one domain's register: a multidomain site "
                               "needs GENROPY_REGISTER=pyro")
        daemon_config = site.config.getAttr("gnrdaemon") or {}
        hosted = hosted_register(site, register_module, daemon_config.get("hmac_key") or "")
        self.locked_exception = register_module.GnrDaemonLocked
        self.site = site
        self.errors = module.Pyro4.errors
        self.storage_path = hosted.save_path
        self.hmac_key = hosted.hmac_key
        self.siteregisterserver_uri, self.siteregister_uri = hosted.main_uri, hosted.register_uri
        self.remotebag_uri = hosted.register_uri.replace(":SiteRegister@", ":RemoteData@")
        self.hosted = hosted
        self.siteregister = CopyingProxy(hosted.register, hosted.lock, hosted.calls)
        self.siteregister.setConfiguration(cleanup=site.custom_config.getAttr("cleanup"))

    def add_data(self: Any, register_item: Any) -> None:
        hosted = self.__dict__.get("hosted")
        if hosted is None:
            original_add_data(self, register_item)
            return
        register_item["data"] = LocalStoreBag(hosted, register_item["register_name"],
                                              register_item["register_item_id"])

    init.__wrapped__ = original_init  # type: ignore[attr-defined]  # GenroPy's, for the guard test
    add_data.__wrapped__ = original_add_data  # type: ignore[attr-defined]
    client_class.__init__ = init
    client_class.add_data_to_register_item = add_data
    module.GENROPY_ASGI_REGISTER_HOSTED_COMPAT = "local"
