"""GenroPy's real-time channel on the server's own port: relay WebSockets to ``gnr web async``.

GenroPy pages open a WebSocket on ``/websocket`` (same host and port as the page,
``ws``/``wss`` following the page's own scheme, unless ``GNR_ASYNC_URL`` or a
``sockets/async_port`` file says otherwise). The server behind it is GenroPy's
async server (``gnr web async``, aiohttp), which always listens on the Unix socket
``<site>/sockets/async.sock``. This module carries such a WebSocket from the ASGI
side to that socket, both directions:

- the handshake is made upstream first; the browser's connection is accepted
  only once the async server accepted (same subprotocol), and refused with the
  upstream's status (or 503 when the async server is not running);
- text and binary messages are relayed as they are, one at a time and awaited on
  both legs, so a slow reader slows the writer instead of filling memory
  (``websockets``' bounded receive queue upstream, uvicorn's transport downstream);
- close codes and reasons cross over: a page closing with 4001 closes the
  upstream with 4001, the async server closing with 1011 closes the page with 1011.

The protocol work is the ``websockets`` library's; this is the relay between it
and the ASGI connection.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from websockets.asyncio.client import ClientConnection, connect, unix_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

logger = logging.getLogger("genropy_asgi.asgi.websocket_relay")

ASYNC_SERVER_PATHS = frozenset({"websocket", "wsproxy"})
"""First path segments of GenroPy's async server (``gnr web async``)."""

MAX_MESSAGE_SIZE = 16 * 1024 * 1024  # uvicorn's default ws_max_size: the same limit on both legs
UPSTREAM_QUEUE = 4  # messages read ahead from the async server while the browser is slow
OPEN_TIMEOUT = 10.0
FORWARDED_HEADERS = frozenset({"cookie", "origin", "user-agent", "accept-language", "authorization",
                               "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip"})
"""Request headers the async server sees as the browser sent them (handshake headers are re-made)."""


def tcp_address(address: str) -> tuple[str, int] | None:
    """``host:port`` of a shared async server (mode ``async``), or ``None`` for a Unix socket path."""
    if address.startswith("/"):
        return None
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def async_server_check(address: str):
    """A readiness check: the async server accepts on its socket or TCP address (GenroPy's
    page loads need it once websockets are on: each new page registers with it)."""

    def check() -> None:
        tcp = tcp_address(address)
        if tcp is not None:
            socket.create_connection(tcp, timeout=2).close()
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(2)
            probe.connect(address)

    return check


def sendable_close_code(code: int | None, default: int) -> int:
    """A close code that may go on the wire (1005/1006/1015 and out-of-range ones may not)."""
    if code is None:
        return default
    if code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999:
        return code
    return default


def upstream_headers(scope: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    """The Host and the forwarded headers for the upstream handshake (``X-Forwarded-*`` kept
    from a front proxy, else made from this connection)."""
    host = "localhost"
    headers: list[tuple[str, str]] = []
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name == "host":
            host = value
        elif name in FORWARDED_HEADERS:
            headers.append((name, value))
    present = {name for name, _ in headers}
    client = scope.get("client")
    if "x-forwarded-for" not in present and client:
        headers.append(("x-forwarded-for", str(client[0])))
    if "x-forwarded-proto" not in present:
        headers.append(("x-forwarded-proto", "https" if scope.get("scheme") == "wss" else "http"))
    return host, headers


def upstream_uri(scope: dict[str, Any], host: str) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    return f"ws://{host}{scope['path']}" + (f"?{query}" if query else "")


async def deny(scope: dict[str, Any], send: Any, status: int, text: str) -> None:
    """Refuse the handshake with an HTTP status when the server can (else uvicorn answers 403)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        body = text.encode()
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1011})


class WebSocketRelay:
    """One browser WebSocket relayed to the async server: its Unix socket in this container,
    or the ``host:port`` of a shared one (``GENROPY_ASYNC_ADDRESS``)."""

    def __init__(self, address: str) -> None:
        self.address = address

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        upstream = await self.open_upstream(scope, send)
        if upstream is None:
            return
        async with upstream:
            await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
            await Pump(upstream, receive, send).run()

    async def open_upstream(self, scope: dict[str, Any], send: Any) -> ClientConnection | None:
        host, headers = upstream_headers(scope)
        options = dict(subprotocols=scope.get("subprotocols") or None, additional_headers=headers,
                       user_agent_header=None, compression=None, open_timeout=OPEN_TIMEOUT,
                       ping_interval=None, max_size=MAX_MESSAGE_SIZE, max_queue=UPSTREAM_QUEUE, proxy=None)
        tcp = tcp_address(self.address)
        try:
            if tcp is not None:  # over TCP, the handshake still names the browser's Host
                loop = asyncio.get_running_loop()
                sock = await asyncio.wait_for(loop.run_in_executor(
                    None, lambda: socket.create_connection(tcp, timeout=OPEN_TIMEOUT)), OPEN_TIMEOUT)
                sock.setblocking(False)
                return await connect(upstream_uri(scope, host), sock=sock, **options)
            return await unix_connect(self.address, uri=upstream_uri(scope, host), **options)
        except InvalidStatus as exc:
            status = exc.response.status_code
            await deny(scope, send, status, f"GenroPy async server answered {status}\n")
        except (OSError, asyncio.TimeoutError, InvalidHandshake) as exc:
            logger.warning("WebSocket %s: GenroPy async server not reachable at %s (%s: %s)",
                           scope["path"], self.address, type(exc).__name__, exc)
            await deny(scope, send, 503, "GenroPy async server (gnr web async) is not running\n")
        return None


class Pump:
    """Both directions of an accepted relay; the first side to close closes the other."""

    def __init__(self, upstream: ClientConnection, receive: Any, send: Any) -> None:
        self.upstream = upstream
        self.receive = receive
        self.send = send
        self.client_gone = False

    async def run(self) -> None:
        to_upstream = asyncio.create_task(self.browser_to_upstream())
        to_browser = asyncio.create_task(self.upstream_to_browser())
        done, pending = await asyncio.wait({to_upstream, to_browser}, return_when=asyncio.FIRST_COMPLETED)
        if to_upstream in done and to_browser in pending:
            # the browser left and the upstream close was sent: let the upstream's
            # close handshake finish (its reader ends), never past close_timeout
            await asyncio.wait({to_browser}, timeout=self.upstream.close_timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            task.result()

    async def browser_to_upstream(self) -> None:
        while True:
            message = await self.receive()
            kind = message["type"]
            if kind == "websocket.receive":
                text = message.get("text")
                try:
                    await self.upstream.send(text if text is not None else message.get("bytes") or b"")
                except ConnectionClosed:
                    return  # upstream closed meanwhile: upstream_to_browser tells the browser
            elif kind == "websocket.disconnect":
                self.client_gone = True
                await self.upstream.close(sendable_close_code(message.get("code"), 1001),
                                          message.get("reason") or "")
                return

    async def upstream_to_browser(self) -> None:
        try:
            async for data in self.upstream:
                if isinstance(data, str):
                    await self.send({"type": "websocket.send", "text": data})
                else:
                    await self.send({"type": "websocket.send", "bytes": data})
        except ConnectionClosed:
            pass  # abnormal upstream end: close_code below says 1006 -> 1011 to the browser
        except OSError:
            self.client_gone = True  # the browser went away while we were sending
        if not self.client_gone:
            code = self.upstream.close_code
            await self.send({"type": "websocket.close",
                             "code": sendable_close_code(code, 1000 if code == 1005 else 1011),
                             "reason": self.upstream.close_reason or ""})
