"""A GenroPy client for tests: pages, their RPCs with real values, login, the websocket.

    from genropy_asgi.testing.client import GenropyClient

    with GenropyClient("http://127.0.0.1:8080") as browser:   # one cookie jar, like a browser
        page = browser.page("/shop/index")                     # GET: the shell and its page_id
        page.rpc("add_product", name="teapot", price=12.5)     # -> the decoded result (an int, a Bag...)
        browser.login("admin", "secret")                       # GenroPy's own doLogin
        with page.channel() as channel:                        # the page's websocket
            data = channel.next_publish("topic")             # what was published (a Bag)

What a GenroPy page does in the browser, done with ``httpx``: a page's GET returns its
shell with its ``page_id``; an RPC is a POST to the same page with ``method`` and
``page_id`` and the keyword arguments typed as GenroPy types them (``12::L``,
``2.5::R``, ``…::BAG``), answered with an envelope Bag (``<GenRoBag><result …>``) that
GenroPy's own ``Bag`` decodes; an envelope with an ``error`` raises ``GenropyRpcError``
with GenroPy's message. ``GenropyClient`` is an ``httpx.Client`` (``.get``, ``.post``,
``.cookies`` work as usual) on the site's base URL.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx

PAGE_ID = re.compile(r"page_id:'([^']+)'")
LOGIN_METHOD = "login_doLogin"  # GenroPy's login dialog (py_requires 'login:LoginComponent')
LOGOUT_METHOD = "connection.logout"  # what genro.logout() calls


class GenropyRpcError(AssertionError):
    """An RPC answered with GenroPy's error envelope (or no envelope at all).

    ``kind`` is GenroPy's error (``gnrexception``, ``server_exception``, ``forbidden call``,
    ``expired``, ``missing handler: …``, or ``HTTP <status>``), ``message`` its text.
    An ``AssertionError``: in a test it reads as a failed expectation, with the message.
    """

    def __init__(self, method: str, kind: str, message: str) -> None:
        self.method, self.kind, self.message = method, kind, message
        super().__init__(f"{method}: {kind}" + (f": {message}" if message else ""))


class GenropyLoginFailed(AssertionError):
    """GenroPy refused the login (its message: ``invalid login`` or a package hook's error)."""


def typed(value: Any) -> str:
    """A keyword argument as GenroPy's client sends it (``3::L``, ``…::BAG``, ``::NN``):
    GenroPy's own catalog, so the page receives the Python type back."""
    if isinstance(value, str):
        return value
    from gnr.core.gnrbag import Bag
    from gnr.core.gnrclasses import GnrClassCatalog

    if isinstance(value, dict):
        value = Bag(value)
    return GnrClassCatalog().asTypedText(value)


def envelope(text: str) -> Any:
    """GenroPy's answer to an RPC as a ``Bag`` (``result``, ``error``, ``dataChanges``…)."""
    from gnr.core.gnrbag import Bag

    return Bag(text)


def cookie_header(client: httpx.Client) -> str:
    """The ``Cookie`` header a browser with ``client``'s jar sends (a websocket handshake's:
    the relay admits a page's own GenroPy session only)."""
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def strip_html(text: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


class GenropyPage:
    """One open page: its shell, its ``page_id``, its RPCs, its websocket.

    ``GenropyPage(base_url, "/pkg/page")`` opens it with a new cookie jar;
    ``GenropyClient.page()`` opens it in that client's (the usual way).
    """

    def __init__(self, base_url: str, path: str = "/index", client: httpx.Client | None = None) -> None:
        self.client = client or GenropyClient(base_url)
        self.base_url = str(self.client.base_url).rstrip("/") if client else base_url.rstrip("/")
        self.path = "/" + path.lstrip("/")
        response = self.client.get(self.path)
        if response.status_code != 200:
            raise GenropyRpcError(f"GET {self.path}", f"HTTP {response.status_code}", strip_html(response.text)[:500])
        self.shell = response.text
        match = PAGE_ID.search(self.shell)
        if not match:
            raise GenropyRpcError(f"GET {self.path}", "not a GenroPy page", "no page_id in its shell")
        self.page_id = match.group(1)

    # -- RPC ------------------------------------------------------------------------
    def rpc_raw(self, method: str, **kwargs: Any) -> httpx.Response:
        """The HTTP answer of an RPC, undecoded."""
        data = {"method": method, "page_id": self.page_id, **{k: typed(v) for k, v in kwargs.items()}}
        return self.client.post(self.path, data=data)

    def rpc_envelope(self, method: str, **kwargs: Any) -> Any:
        """The whole envelope Bag of an RPC; raises ``GenropyRpcError`` on GenroPy's errors."""
        response = self.rpc_raw(method, **kwargs)
        if response.status_code != 200:
            raise GenropyRpcError(method, f"HTTP {response.status_code}", strip_html(response.text)[:1000])
        if "<GenRoBag" not in response.text[:200]:
            raise GenropyRpcError(method, "no GenroPy envelope", strip_html(response.text)[:1000])
        answer = envelope(response.text)
        error = answer["error"]
        if error:
            result = answer["result"]
            raise GenropyRpcError(method, str(error), strip_html(str(result)) if result is not None else "")
        return answer

    def rpc(self, method: str, **kwargs: Any) -> Any:
        """Call the page's public method ``method`` and return its result, decoded (``int``,
        ``str``, ``list``, ``Bag``, dates…; ``None`` for nothing)."""
        return self.rpc_envelope(method, **kwargs)["result"]

    # -- websocket ------------------------------------------------------------------
    @contextlib.contextmanager
    def channel(self, timeout: float = 10) -> Iterator[GenropyChannel]:
        """The page's real-time channel, as ``genro.wsk`` opens it: a WebSocket to
        ``/websocket`` on the page's origin, ``connected`` with the page_id, a ping answered."""
        from websockets.sync.client import connect

        url = self.base_url.replace("http", "ws", 1) + "/websocket"
        cookies = cookie_header(self.client)
        headers = {"Cookie": cookies} if cookies else None
        with connect(url, open_timeout=timeout, additional_headers=headers) as socket:
            socket.send(json.dumps({"command": "connected", "page_id": self.page_id}))
            socket.send(json.dumps({"command": "ping", "lastEventAge": 0}))
            answer = socket.recv(timeout=timeout)
            if answer != "pong":
                raise GenropyRpcError("websocket", "no pong", str(answer)[:300])
            yield GenropyChannel(socket)


class GenropyChannel:
    """A page's open websocket: ``next_publish(topic)`` waits for GenroPy's next publish."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket

    def next_publish(self, topic: str, timeout: float = 30) -> Any:
        """What the next ``publish`` on ``topic`` carries (its ``data``, decoded: a ``Bag``);
        other messages are skipped; ``TimeoutError`` if none comes in ``timeout`` seconds."""
        return envelope(self.next_publish_text(topic, timeout))["data.data"]

    def next_publish_text(self, topic: str, timeout: float = 30, containing: str | None = None) -> str:
        """The next publish on ``topic`` (with ``containing`` in it: others on the topic, e.g. a
        scheduled task's, are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no publish on {topic!r}{f' with {containing!r}' if containing else ''} "
                                   f"within {timeout:g}s")
            message = self.socket.recv(timeout=remaining)
            if isinstance(message, str) and f"<topic>{topic}</topic>" in message and \
                    (containing is None or containing in message):
                return message


class GenropyClient(httpx.Client):
    """An ``httpx.Client`` on a GenroPy site that opens pages and logs in, like a browser:
    one cookie jar (GenroPy's connection cookie) for all its pages."""

    def __init__(self, base_url: str, timeout: float = 60, **kwargs: Any) -> None:
        super().__init__(base_url=base_url.rstrip("/"), timeout=timeout, **kwargs)

    def page(self, path: str = "/index") -> GenropyPage:
        """Open a page (a GET, as a browser does): its ``page_id`` and its RPCs."""
        return GenropyPage(str(self.base_url), path, client=self)

    def login(self, user: str, password: str, page: str = "/index") -> GenropyPage:
        """Log in through GenroPy's own login (``login_doLogin`` of the page's
        ``login:LoginComponent``, what its login dialog calls) on ``page``; the connection,
        and so every page of this client, is that user's afterwards. Returns the page.
        ``GenropyLoginFailed`` with GenroPy's message if it refuses."""
        opened = self.page(page)
        try:
            answer = opened.rpc(LOGIN_METHOD, login={"user": user, "password": password}, rootenv={})
        except GenropyRpcError as exc:
            if exc.kind.startswith("missing handler"):
                raise GenropyLoginFailed(f"{opened.path} has no GenroPy login (py_requires "
                                         f"'login:LoginComponent'): log in on a page that has") from None
            # GenroPy 26.10 answers a wrong password with an exception (no avatar)
            raise GenropyLoginFailed(f"login of {user!r} refused (wrong user or password?); GenroPy answered: "
                                     f"{exc.message or exc.kind}") from None
        refusal = answer["error"] if hasattr(answer, "getItem") else None
        if refusal:
            raise GenropyLoginFailed(f"login of {user!r} refused: {refusal}")
        return opened

    def logout(self, page: str = "/index") -> None:
        """Log out as ``genro.logout()`` does (GenroPy drops the connection); the next page
        opened is a guest's."""
        self.page(page).rpc(LOGOUT_METHOD)
