"""A headless Chromium driven over the DevTools protocol: page loads as a person waits for them.

``Chromium()`` starts the system browser (``/usr/bin/chromium``, or ``GENROPY_CHROMIUM``)
headless on a fresh profile with the flags a closed network needs, and speaks the
DevTools protocol over its WebSocket (``websockets``' sync client; no Playwright, no
browser download). ``load(url)`` navigates one tab, waits for the load event, and returns
a ``PageLoad``: load-event milliseconds, every request with its status, the bytes on the
wire, whether it came from the browser's cache, its ``Content-Encoding``. The same
browser (same profile) loading the URL again is a repeat visit; ``clear_cache()`` makes
the next load a first visit again.

Used by ``bench/run.py`` (section ``page``) and by the browser tests.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from genropy_asgi import settings

CHROMIUM_VARIABLE = "GENROPY_CHROMIUM"
DEFAULT_CHROMIUM = settings.setting(CHROMIUM_VARIABLE).default
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--remote-debugging-port=0")


def chromium_path() -> str | None:
    """The browser to drive (``GENROPY_CHROMIUM``, else Debian's), ``None`` when absent."""
    path = os.environ.get(CHROMIUM_VARIABLE) or DEFAULT_CHROMIUM
    return path if os.path.exists(path) else shutil.which(os.path.basename(path))


@dataclass
class Request:
    url: str
    status: int = 0
    encoded_bytes: int = 0
    from_cache: bool = False
    content_encoding: str = ""
    failed: str = ""
    kind: str = ""  # DevTools' resource type: Document, Script, Stylesheet, XHR, Image...
    started_ms: float = 0.0  # from the navigation
    finished_ms: float = 0.0


@dataclass
class PageLoad:
    url: str
    load_ms: float
    requests: list[Request] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return "/".join(self.url.split("/")[:3])

    @property
    def network_requests(self) -> list[Request]:
        """The requests that reached the page's server (not answered from the browser's cache)."""
        return [r for r in self.requests if not r.from_cache and r.url.startswith(self.origin + "/")]

    @property
    def wire_bytes(self) -> int:
        return sum(r.encoded_bytes for r in self.network_requests)

    def sequential_xhr(self) -> list[Request]:
        """The XHR loads made one after the other (dojo's loader), in order."""
        return sorted((r for r in self.network_requests if r.kind == "XHR" and "/_" in r.url),
                      key=lambda r: r.started_ms)

    @property
    def failures(self) -> list[Request]:
        return [r for r in self.requests if r.failed or r.status >= 400]


class Chromium:
    """One headless browser, one tab; ``with Chromium() as browser: browser.load(url)``."""

    def __init__(self, executable: str | None = None, timeout: float = 60.0) -> None:
        self.executable = executable or chromium_path()
        if not self.executable:
            raise FileNotFoundError(f"no Chromium found (apt-get install chromium, or set {CHROMIUM_VARIABLE})")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="genropy-chromium-")
        self.process = subprocess.Popen([self.executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._ids = itertools.count(1)
        self._socket = None
        self._exit = contextlib.ExitStack()
        try:
            self._connect()
        except BaseException:
            self.close()
            raise

    # -- protocol ---------------------------------------------------------------------
    def _connect(self) -> None:
        from websockets.sync.client import connect

        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + self.timeout
        while not os.path.exists(port_file) or not open(port_file).read().strip():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.executable} exited with status {self.process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.executable}: no DevTools port after {self.timeout:g}s")
            time.sleep(0.05)
        port = open(port_file).read().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in targets if t.get("type") == "page")
        self._socket = self._exit.enter_context(
            connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=self.timeout))
        self.call("Network.enable")
        self.call("Page.enable")

    def call(self, method: str, **params: Any) -> dict:
        """Send one command and return its result (events received meanwhile are dropped)."""
        ident = next(self._ids)
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=self.timeout))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def clear_cache(self) -> None:
        self.call("Network.clearBrowserCache")
        self.call("Network.clearBrowserCookies")

    def load(self, url: str, settle: float = 0.5) -> PageLoad:
        """Navigate to ``url``; wait for the load event, then for the network to be idle (no
        request in flight) for ``settle`` seconds, so late requests (dojo's XHR loads) are done
        and cached before the next load."""
        ident = next(self._ids)
        started = time.monotonic()
        self._socket.send(json.dumps({"id": ident, "method": "Page.navigate", "params": {"url": url}}))
        requests: dict[str, Request] = {}
        in_flight: set[str] = set()
        origin = None  # DevTools' monotonic clock at the first request
        load_ms = None
        deadline = started + self.timeout
        idle_since = None
        while True:
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(f"{url}: no load event and idle network after {self.timeout:g}s")
            if load_ms is not None and not in_flight:
                idle_since = idle_since or now
                if now - idle_since >= settle:
                    break
            else:
                idle_since = None
            try:
                message = json.loads(self._socket.recv(timeout=0.05))
            except TimeoutError:
                continue
            method, params = message.get("method"), message.get("params", {})
            if message.get("id") == ident and "error" in message:
                raise RuntimeError(f"Page.navigate {url}: {message['error']}")
            request_id = params.get("requestId")
            if method == "Network.requestWillBeSent":
                origin = origin if origin is not None else params["timestamp"]
                requests.setdefault(request_id, Request(url=params["request"]["url"], kind=params.get("type", ""),
                                                        started_ms=(params["timestamp"] - origin) * 1000))
                in_flight.add(request_id)
            elif method == "Network.responseReceived":
                request = requests.setdefault(request_id, Request(url=params["response"]["url"]))
                response = params["response"]
                request.status = response.get("status", 0)
                request.from_cache = request.from_cache or bool(
                    response.get("fromDiskCache") or response.get("fromMemoryCache") or response.get("fromPrefetchCache"))
                headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
                request.content_encoding = headers.get("content-encoding", "")
            elif method == "Network.requestServedFromCache":
                requests.setdefault(request_id, Request(url="")).from_cache = True
            elif method == "Network.loadingFinished":
                in_flight.discard(request_id)
                if request_id in requests:
                    requests[request_id].encoded_bytes = int(params.get("encodedDataLength", 0))
                    requests[request_id].finished_ms = (params["timestamp"] - origin) * 1000
            elif method == "Network.loadingFailed":
                in_flight.discard(request_id)
                if request_id in requests:
                    requests[request_id].failed = params.get("errorText", "failed")
            elif method == "Page.loadEventFired" and load_ms is None:
                load_ms = (time.monotonic() - started) * 1000
        return PageLoad(url=url, load_ms=load_ms, requests=list(requests.values()))

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            raise RuntimeError(f"{expression}: {details.get('exception', {}).get('description') or details.get('text')}")
        return answer.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll a JavaScript expression until it is truthy; its value. ``TimeoutError`` else."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.evaluate(expression)
            except RuntimeError:  # not defined yet (the page is still building)
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression!r} still falsy after {timeout:g}s")
            time.sleep(0.1)

    # -- lifetime ---------------------------------------------------------------------
    def close(self) -> None:
        if self._socket is not None:
            try:
                self._exit.close()
            except Exception:
                pass
            self._socket = None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
