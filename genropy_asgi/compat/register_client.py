"""The site finds its register again after gnrdaemon restarted (or moved to another pod).

Why this exists: GenroPy 26.10's ``SiteRegisterClient`` asks gnrdaemon once, at start,
where the site's register listens, and keeps one Pyro proxy to it. When gnrdaemon
restarts, the register comes back on a new port (with its saved state, see
``register_store``) but every web process keeps calling the old address: each page
and RPC fails until the web server itself is restarted. With gnrdaemon in its own
workload (the chart's ``topology: scaled``) nothing restarts the web pods for it.

What it does: ``siteregister`` becomes a thin proxy of the real one; a call that
fails with Pyro's ``CommunicationError`` asks gnrdaemon for the register again
(``getSite(create=True, autorestore=True)``, which starts it and restores its state
when it is not running), waiting up to ``GENROPY_DAEMON_WAIT`` seconds (default 30)
for a daemon that is restarting, then runs the call once more. One thread asks; the
others wait for its answer. Calls that never reached the register are the ones
retried: a register that is down accepts no connection.

And one proxy per thread: GenroPy shares one Pyro proxy between every thread of a process,
and a Pyro proxy holds its lock for a whole round trip, so under load the WSGI threads
queue on that lock (58% of a loaded process's samples, bench/RESULTS.md). Each thread
gets its own connection to the register (``SiteRegisterClient.pyroProxy``, GenroPy's own
way to make one, with the HMAC key and the timeout of GenroPy's proxy); the register is
Pyro's multiplex server, so connections cost no thread there. ``GENROPY_REGISTER_PROXY=shared``
keeps GenroPy's one proxy (A/B, fallback).

And no second lost at each start: GenroPy asks gnrdaemon for the site's register
(``getSite(create=True)``), and while gnrdaemon is still forking it (the first answer of
every start) sleeps a whole second before asking again: a second of every server
start and every gnr web async start (bench/RESULTS.md, the cold start's profile). The
same question is asked again after 50 ms, growing to GenroPy's one second.

When to drop it: ``tests/compat/test_register_client.py`` fails the day GenroPy changes
the client code this relies on.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from genropy_asgi.compat import upstream

TARGET_MODULE = "gnr.web.daemon.siteregister_client"
DEFAULT_WAIT = 30.0


PROXY_VARIABLE = "GENROPY_REGISTER_PROXY"


def proxy_per_thread() -> bool:
    """``GENROPY_REGISTER_PROXY``: ``thread`` (default) or ``shared`` (GenroPy's one proxy)."""
    from genropy_asgi import settings

    try:
        return bool(settings.read(os.environ, PROXY_VARIABLE) == "thread")
    except settings.SettingError:
        return True


def wait_seconds() -> float:
    """``GENROPY_DAEMON_WAIT`` when set (the image's programs: 60), else ``DEFAULT_WAIT``."""
    from genropy_asgi import settings

    try:
        seconds: float = settings.read(os.environ, "GENROPY_DAEMON_WAIT", DEFAULT_WAIT)
    except settings.SettingError:
        return DEFAULT_WAIT
    return max(seconds, 1.0)


class ReconnectingRegister:
    """``SiteRegisterClient.siteregister``: the register's Pyro proxy, one per thread, found again
    when it moved.

    ``proxy`` is the one GenroPy made; ``make_proxy()`` makes another to the same register
    (``None``: every thread shares ``proxy``, GenroPy's way).
    """

    def __init__(self, client: Any, proxy: Any, reinit: Any, errors: Any,
                 make_proxy: Callable[[], Any] | None = None) -> None:
        self._client, self._proxy, self._reinit, self._errors = client, proxy, reinit, errors
        self._make_proxy = make_proxy
        self._generation = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def _thread_proxy(self) -> Any:
        """This thread's proxy to the register's current address."""
        local = self._local.__dict__
        if local.get("generation") != self._generation:
            stale = local.get("proxy")
            if stale is not None and stale is not self._proxy:
                release(stale)
            local["proxy"] = self._make_proxy() if self._make_proxy is not None else self._proxy
            local["generation"] = self._generation
        return local["proxy"]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_pyro"):  # Pyro's own proxy attributes (timeouts, release...)
            return getattr(self._proxy, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            generation = self._generation
            try:
                return getattr(self._thread_proxy(), name)(*args, **kwargs)
            except self._errors.CommunicationError as exc:
                self._find_again(generation, exc)
                return getattr(self._thread_proxy(), name)(*args, **kwargs)

        return call

    def _find_again(self, seen: int, cause: BaseException) -> None:
        with self._lock:
            if self._generation != seen:  # another thread found it meanwhile
                return
            deadline = time.monotonic() + wait_seconds()
            last: BaseException = cause
            while True:
                try:
                    self._client.siteregisterserver_uri = None
                    self._reinit()
                    break
                except Exception as exc:  # the daemon is restarting: Pyro errors, its "not started"
                    last = exc
                if time.monotonic() >= deadline:
                    raise self._errors.CommunicationError(
                        f"gnrdaemon's register not reachable after {wait_seconds():g}s "
                        f"(GENROPY_DAEMON_WAIT): {type(last).__name__}: {last}") from last
                time.sleep(0.5)
            self._generation += 1
            sys.stderr.write(f"genropy-asgi: site register found again at {self._client.siteregister_uri}\n")


FIRST_RETRY = 0.05  # seconds before asking gnrdaemon again for the register it is starting
LAST_RETRY = 1.0  # GenroPy's own pause


class ModuleClock:
    """``time`` as the client module sees it: everything is the real ``time``, but
    ``sleep`` is capped while ``check_register_uri`` runs in this thread."""

    def __init__(self) -> None:
        self.local = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        cap = getattr(self.local, "cap", None)
        time.sleep(seconds if cap is None else min(seconds, cap))


def check_register_uri(original: Callable[[Any, Any], Any], clock: ModuleClock) -> Callable[[Any, Any], Any]:
    """GenroPy's ``checkSiteRegisterServerUri`` with short pauses: its ``time.sleep(1)``
    (after an answer without the register's address) lasts 50 ms, then twice as long at
    each new try of the same client, up to GenroPy's second."""

    def check(self: Any, daemon_proxy: Any) -> Any:
        pause = self.__dict__.get("_genropy_asgi_pause", FIRST_RETRY)
        self._genropy_asgi_pause = min(pause * 2, LAST_RETRY)
        clock.local.cap = pause
        try:
            return original(self, daemon_proxy)
        finally:
            clock.local.cap = None

    check.__wrapped__ = original  # type: ignore[attr-defined]  # GenroPy's, for the guard test
    return check


def patch_client_module(module: Any) -> None:
    client_class = module.SiteRegisterClient
    original_init_register = client_class.initSiteRegister

    def find_register(client: Any) -> None:
        """gnrdaemon's answer for this site's register, as GenroPy's ``__init__`` asks it."""
        with client.pyroProxy(str(upstream_uri(client.gnrdaemon_proxy))) as daemon:
            if not client.runningDaemon(daemon):
                raise RuntimeError("gnrdaemon is not started")
            if not client.checkSiteRegisterServerUri(daemon):
                raise RuntimeError("gnrdaemon has not started the site's register yet")
        original_init_register(client)

    def init_register(self: Any) -> None:
        original_init_register(self)
        current = self.__dict__.get("siteregister")
        if isinstance(current, ReconnectingRegister) or not hasattr(self, "gnrdaemon_proxy"):
            return  # a site daemon of its own (sitedaemon.xml): GenroPy's path, unchanged

        def reinit() -> None:
            find_register(self)
            wrapper._proxy = self.siteregister  # the new raw proxy GenroPy just made
            self.siteregister = wrapper

        def thread_proxy() -> Any:
            """Another connection to the register, made as GenroPy makes its own."""
            template = wrapper._proxy
            proxy = self.pyroProxy(str(upstream_uri(template)))
            timeout = upstream.pyro_timeout(template)
            if timeout:
                upstream.set_pyro_timeout(proxy, timeout)
            return proxy

        wrapper = ReconnectingRegister(self, self.siteregister, reinit, module.Pyro4.errors,
                                       thread_proxy if proxy_per_thread() else None)
        self.siteregister = wrapper

    init_register.__wrapped__ = original_init_register  # type: ignore[attr-defined]  # GenroPy's, for the guard test
    client_class.initSiteRegister = init_register
    if getattr(module, "time", None) is time:  # the module's own ``import time``
        clock = ModuleClock()
        module.time = clock
        client_class.checkSiteRegisterServerUri = check_register_uri(client_class.checkSiteRegisterServerUri, clock)
    module.GENROPY_ASGI_REGISTER_CLIENT_COMPAT = "reconnects"


def upstream_uri(proxy: Any) -> Any:
    return upstream.pyro_uri(proxy)


def release(proxy: Any) -> None:
    """Close a proxy's connection (Pyro's documented ``_pyroRelease``), whatever state it is in."""
    try:
        proxy._pyroRelease()
    except Exception:
        pass
