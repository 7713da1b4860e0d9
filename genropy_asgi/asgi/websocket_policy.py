"""What a browser may do on GenroPy's real-time channel (pure rules; the relay applies them).

GenroPy's async server (``gnr web async``) trusts whatever reaches it: any ``Origin``, any
client, and every message names what it acts on -- a ``page_id`` the socket then speaks
for, a ``target_page_id`` it writes to, a ``shared_id`` that becomes a file path
(``site:async/sharedobjects/<id>.xml``: ``../../`` read and wrote GenroPy's configuration),
a ``command`` walked as attributes of the server. The relay stands in front of it:

- **Handshake** (``handshake_refusal``): the ``Host`` must be a host name or address with an
  optional port; a browser's ``Origin`` must be the site's own (the ``Host`` the page was
  reached by, on the same scheme family) or one of ``GENROPY_ALLOWED_ORIGINS`` (403
  otherwise, as Jupyter and Django Channels do); a client without ``Origin`` is not a
  browser and cannot be driven by another site. The connection must carry a GenroPy
  session cookie (403 otherwise).
- **Messages** (``message_refusal``): a JSON object whose ``command`` is one GenroPy's pages
  send (``ALLOWED_COMMANDS``); every ``shared_id`` a plain identifier (``safe_shared_id``); a
  ``som.dispatch`` method public; a page-scoped command only once the socket is bound to a
  page of its own session (``connected`` / ``register_service``, checked by the relay
  against GenroPy's register).
- **Size and count**: messages up to ``GENROPY_WS_MAX_MESSAGE_BYTES`` each way (close 1009),
  at most ``GENROPY_WS_MAX_CONNECTIONS`` sockets per process (close 1013) and
  ``GENROPY_WS_MAX_PER_CLIENT`` per client address (close 1008).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from genropy_asgi import settings

ALLOWED_ORIGINS_VARIABLE = "GENROPY_ALLOWED_ORIGINS"
MAX_MESSAGE_VARIABLE = "GENROPY_WS_MAX_MESSAGE_BYTES"
MAX_CONNECTIONS_VARIABLE = "GENROPY_WS_MAX_CONNECTIONS"
MAX_PER_CLIENT_VARIABLE = "GENROPY_WS_MAX_PER_CLIENT"

BIND_COMMANDS = frozenset({"connected", "register_service"})
"""Commands that bind the socket to the page named by their ``page_id``."""
UNBOUND_COMMANDS = frozenset({"echo", "ping"})
"""Commands harmless before the socket is bound to a page."""
PAGE_COMMANDS = frozenset({"user_event", "route", "call", "service", "som.subscribe", "som.unsubscribe",
                           "som.datachange", "som.onPathFocus", "som.loadSharedObject",
                           "som.saveSharedObject", "som.dispatch"})
"""Commands acting for the socket's page: GenroPy 26.10's ``gnrwebsocket.js`` and shared objects."""
ALLOWED_COMMANDS = BIND_COMMANDS | UNBOUND_COMMANDS | PAGE_COMMANDS

CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013

_SHARED_ID = re.compile(r"[A-Za-z0-9_@-][A-Za-z0-9_.@:-]{0,199}")
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*\.?"
                   r"|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")
DEFAULT_PORTS = {"http": "80", "ws": "80", "https": "443", "wss": "443"}


@dataclass(frozen=True)
class WebSocketLimits:
    """The channel's limits and allowed origins (the ``GENROPY_WS_*`` / ``GENROPY_ALLOWED_ORIGINS`` settings)."""

    allowed_origins: tuple[str, ...] = ()
    max_message_bytes: int = settings.setting(MAX_MESSAGE_VARIABLE).default
    max_connections: int = settings.setting(MAX_CONNECTIONS_VARIABLE).default
    max_per_client: int = settings.setting(MAX_PER_CLIENT_VARIABLE).default

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> WebSocketLimits:
        """Raises ``settings.SettingError`` (one line naming the variable) for a malformed value."""
        origins = settings.read(environ, ALLOWED_ORIGINS_VARIABLE) or ""
        return cls(allowed_origins=tuple(normal_origin(item) for item in origins.split(",") if item.strip()),
                   max_message_bytes=settings.read(environ, MAX_MESSAGE_VARIABLE),
                   max_connections=settings.read(environ, MAX_CONNECTIONS_VARIABLE),
                   max_per_client=settings.read(environ, MAX_PER_CLIENT_VARIABLE))


def normal_origin(origin: str) -> str:
    """``HTTPS://Example.com:443/`` -> ``https://example.com`` (``*`` stays)."""
    origin = origin.strip()
    if origin == "*":
        return origin
    parts = urllib.parse.urlsplit(origin.lower())
    try:
        port = parts.port
    except ValueError:
        return "invalid:" + origin
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    shown = "" if port is None or str(port) == DEFAULT_PORTS.get(parts.scheme) else f":{port}"
    return f"{parts.scheme}://{host}{shown}"


def valid_host(host: str) -> bool:
    return bool(_HOST.fullmatch(host))


def same_origin(origin: str, host: str, scheme: str) -> bool:
    """Is ``origin`` the site reached at ``host`` (``ws`` <-> ``http``, ``wss`` <-> ``https``)?"""
    page_scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    own = {normal_origin(f"{page_scheme}://{host}")}
    if page_scheme == "http":  # TLS ended by a proxy in front: the page was https
        own.add(normal_origin(f"https://{host}"))
    return normal_origin(origin) in own


def handshake_refusal(headers: Mapping[str, str], scheme: str, limits: WebSocketLimits) -> str | None:
    """Why this websocket handshake is refused (``None``: it may go on)."""
    host = headers.get("host", "")
    if not valid_host(host):
        return "invalid Host header"
    origin = headers.get("origin")
    if origin is not None and "*" not in limits.allowed_origins and not same_origin(origin, host, scheme) \
            and normal_origin(origin) not in limits.allowed_origins:
        return f"origin {origin!r} is not this site's (set {ALLOWED_ORIGINS_VARIABLE} to allow it)"
    return None


def safe_shared_id(value: Any) -> bool:
    """A shared object's id that stays a file name in GenroPy's shared-objects folder."""
    return isinstance(value, str) and bool(_SHARED_ID.fullmatch(value)) and ".." not in value \
        and "::" not in value


@dataclass(frozen=True)
class Message:
    """A message from a browser, as GenroPy's async server will read it."""

    command: str
    fields: dict[str, Any]

    @property
    def binds_page(self) -> str | None:
        """The page this message binds the socket to (``connected``, ``register_service``)."""
        if self.command in BIND_COMMANDS:
            page_id = self.fields.get("page_id")
            return page_id if isinstance(page_id, str) else ""
        return None

    @property
    def target_page(self) -> str | None:
        target = self.fields.get("target_page_id") if self.command == "route" else None
        return target if isinstance(target, str) else None


class _Pairs(list):
    """A JSON object's (key, value) pairs, in order, duplicates kept."""


def parse_message(text: str) -> Message | str:
    """The message, or why it is refused. Keys are stripped as GenroPy strips them; a key
    given twice (once stripped) is refused: the relay and GenroPy would read different values."""
    try:
        pairs = json.loads(text, object_pairs_hook=_Pairs)
    except (ValueError, RecursionError):
        return "not JSON"
    if not isinstance(pairs, _Pairs):
        return "not a JSON object"
    fields: dict[str, Any] = {}
    for key, value in pairs:
        key = key.strip()
        if key in fields:
            return f"field {key!r} given twice"
        fields[key] = value
    command = fields.get("command")
    if not isinstance(command, str) or command.strip() not in ALLOWED_COMMANDS:
        return f"command {str(command)[:60]!r} is not one GenroPy's pages send"
    return Message(command.strip(), fields)


def message_refusal(message: Message, bound: bool) -> str | None:
    """Why ``message`` may not reach GenroPy (``bound``: the socket speaks for a page of its session)."""
    if message.command in PAGE_COMMANDS and not bound:
        return f"{message.command} before the socket is bound to a page of its session"
    shared_id = message.fields.get("shared_id")
    if shared_id is not None and not safe_shared_id(shared_id):  # any command: GenroPy makes it a file path
        return "unsafe shared_id"
    if message.command.startswith("som.") and message.command not in ("som.subscribe", "som.unsubscribe") \
            and not safe_shared_id(message.fields.get("shared_id")):
        return "missing or unsafe shared_id"
    if message.command == "som.dispatch" and not (isinstance(message.fields.get("so_method"), str)
                                                  and _IDENTIFIER.fullmatch(message.fields["so_method"])):
        return "som.dispatch of a method that is not public"
    return None


def cookie_header(headers: Iterable[tuple[str, str]]) -> str:
    return "; ".join(value for name, value in headers if name == "cookie")
