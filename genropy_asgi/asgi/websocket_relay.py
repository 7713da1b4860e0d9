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

Before any of that, ``websocket_policy``'s rules (``ChannelGuard``): the handshake's ``Host``
and ``Origin``, connection caps, message sizes; and, when the server serves a GenroPy site,
a GenroPy session cookie at the handshake, and each message from the browser parsed as
GenroPy will parse it and refused (close 1008) when it is not one GenroPy's pages send or
acts for a page not of the socket's own session (``site_sessions``).

The protocol work is the ``websockets`` library's; this is the relay between it
and the ASGI connection.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import urllib.parse
from typing import Any

from websockets.asyncio.client import ClientConnection, connect, unix_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from genropy_asgi.asgi import websocket_policy as policy
from genropy_asgi.asgi.site_sessions import SiteSessions

logger = logging.getLogger("genropy_asgi.asgi.websocket_relay")

ASYNC_SERVER_PATHS = frozenset({"websocket", "wsproxy"})
"""First path segments of GenroPy's async server (``gnr web async``)."""

UPSTREAM_QUEUE = 4  # messages read ahead from the async server while the browser is slow
OPEN_TIMEOUT = 10.0
FORWARDED_HEADERS = frozenset({"cookie", "origin", "user-agent", "accept-language", "authorization",
                               "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip"})
"""Request headers the async server sees as the browser sent them (handshake headers are re-made;
the ``X-Forwarded-*`` ones only from a trusted proxy: the server drops them otherwise)."""


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
    if not policy.valid_host(host):
        host = "localhost"  # the handshake rule refused it already; never paste it into a URI
    path = urllib.parse.quote(scope["path"], safe="/;:@&=+$,!~*'()")
    query = urllib.parse.quote(scope.get("query_string", b"").decode("latin-1"), safe="=&%+;,/:@!~*'()")
    return f"ws://{host}{path}" + (f"?{query}" if query else "")


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


class ConnectionCount:
    """Open relayed websockets of this process, in all and per client address (loop side)."""

    def __init__(self) -> None:
        self.total = 0
        self.per_client: dict[str, int] = {}

    def refusal(self, client: str, limits: policy.WebSocketLimits) -> tuple[int, str] | None:
        if self.total >= limits.max_connections:
            return policy.CLOSE_TRY_AGAIN, f"over {limits.max_connections} websockets ({policy.MAX_CONNECTIONS_VARIABLE})"
        if self.per_client.get(client, 0) >= limits.max_per_client:
            return policy.CLOSE_POLICY, f"over {limits.max_per_client} websockets from {client} " \
                                        f"({policy.MAX_PER_CLIENT_VARIABLE})"
        return None

    def add(self, client: str) -> None:
        self.total += 1
        self.per_client[client] = self.per_client.get(client, 0) + 1

    def remove(self, client: str) -> None:
        self.total -= 1
        left = self.per_client.get(client, 1) - 1
        if left:
            self.per_client[client] = left
        else:
            self.per_client.pop(client, None)


class ChannelGuard:
    """GenroPy's protocol rules for one socket: bound to a page of its session, messages checked."""

    def __init__(self, sessions: SiteSessions, connections: frozenset[str]) -> None:
        self.sessions = sessions
        self.connections = connections
        self.user: str | None = None
        self.bound = False
        self._users: dict[str, str | None] = {}

    async def refusal(self, text: str) -> str | None:
        message = policy.parse_message(text)
        if isinstance(message, str):
            return message
        page_id = message.binds_page
        if page_id is not None:
            owner = await self._owner(page_id) if page_id else None
            if owner is None or owner.connection_id not in self.connections:
                return f"{message.command} for page {page_id[:40]!r}, not one of this session's"
            self.bound, self.user = True, owner.user
        refused = policy.message_refusal(message, self.bound)
        if refused is not None:
            return refused
        target = message.target_page
        if target is not None:
            if target not in self._users:
                owner = await self._owner(target)
                self._users[target] = owner.user if owner is not None else None
            if self._users[target] is None or self._users[target] != self.user:
                return "route to a page of another user"
        return None

    async def _owner(self, page_id: str):
        return await asyncio.get_running_loop().run_in_executor(None, self.sessions.page_owner, page_id)


class WebSocketRelay:
    """One browser WebSocket relayed to the async server: its Unix socket in this container,
    or the ``host:port`` of a shared one (``GENROPY_ASYNC_ADDRESS``). ``sessions``: the GenroPy
    site's (``None``: a plain relay, only the transport rules apply)."""

    def __init__(self, address: str, limits: policy.WebSocketLimits | None = None,
                 sessions: SiteSessions | None = None, count: ConnectionCount | None = None) -> None:
        self.address = address
        self.limits = limits or policy.WebSocketLimits()
        self.sessions = sessions
        self.count = count or ConnectionCount()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        headers = [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in scope.get("headers", [])]
        refused = policy.handshake_refusal(dict(headers), scope.get("scheme", "ws"), self.limits)
        guard: ChannelGuard | None = None
        if refused is None and self.sessions is not None:
            connections = await asyncio.get_running_loop().run_in_executor(
                None, self.sessions.connections, policy.cookie_header(headers))
            if not connections:
                refused = "no GenroPy session (open a page of the site first)"
            guard = ChannelGuard(self.sessions, connections)
        if refused is not None:
            logger.warning("WebSocket %s refused: %s", scope["path"], refused)
            await deny(scope, send, 403, f"Forbidden: {refused}\n")
            return
        client = str((scope.get("client") or ("?",))[0])
        over = self.count.refusal(client, self.limits)
        if over is not None:
            logger.warning("WebSocket %s refused: %s", scope["path"], over[1])
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": over[0], "reason": over[1][:120]})
            return
        self.count.add(client)
        try:
            upstream = await self.open_upstream(scope, send)
            if upstream is None:
                return
            async with upstream:
                await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
                await Pump(upstream, receive, send, guard, self.limits.max_message_bytes).run()
        finally:
            self.count.remove(client)

    async def open_upstream(self, scope: dict[str, Any], send: Any) -> ClientConnection | None:
        host, headers = upstream_headers(scope)
        options = dict(subprotocols=scope.get("subprotocols") or None, additional_headers=headers,
                       user_agent_header=None, compression=None, open_timeout=OPEN_TIMEOUT,
                       ping_interval=None, max_size=self.limits.max_message_bytes, max_queue=UPSTREAM_QUEUE,
                       proxy=None)
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
        except (TimeoutError, OSError, InvalidHandshake) as exc:
            logger.warning("WebSocket %s: GenroPy async server not reachable at %s (%s: %s)",
                           scope["path"], self.address, type(exc).__name__, exc)
            await deny(scope, send, 503, "GenroPy async server (gnr web async) is not running\n")
        return None


class Pump:
    """Both directions of an accepted relay; the first side to close closes the other."""

    def __init__(self, upstream: ClientConnection, receive: Any, send: Any, guard: ChannelGuard | None = None,
                 max_message_bytes: int = 0) -> None:
        self.upstream = upstream
        self.receive = receive
        self.send = send
        self.guard = guard
        self.max_message_bytes = max_message_bytes
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
                data = text if text is not None else message.get("bytes") or b""
                refused = await self.refusal(text, data)
                if refused is not None:
                    code, reason = refused
                    logger.warning("WebSocket message refused, closing (%s): %s", code, reason)
                    self.client_gone = True
                    await self.send({"type": "websocket.close", "code": code, "reason": reason[:120]})
                    await self.upstream.close(1000, "")
                    return
                try:
                    await self.upstream.send(data)
                except ConnectionClosed:
                    return  # upstream closed meanwhile: upstream_to_browser tells the browser
            elif kind == "websocket.disconnect":
                self.client_gone = True
                await self.upstream.close(sendable_close_code(message.get("code"), 1001),
                                          message.get("reason") or "")
                return

    async def refusal(self, text: str | None, data: str | bytes) -> tuple[int, str] | None:
        """(close code, reason) when this browser message may not go upstream."""
        size = len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)
        if self.max_message_bytes and size > self.max_message_bytes:
            return policy.CLOSE_TOO_BIG, f"message over {self.max_message_bytes} bytes ({policy.MAX_MESSAGE_VARIABLE})"
        if self.guard is None:
            return None
        if text is None:
            return 1003, "GenroPy's channel takes text messages"
        refused = await self.guard.refusal(text)
        return None if refused is None else (policy.CLOSE_POLICY, refused)

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
