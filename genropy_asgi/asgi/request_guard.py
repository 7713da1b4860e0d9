"""The front of every request: one path rule and the body limits, before any routing.

GenroPy 26.10's static handlers join the URL's segments to their roots without
checking where the result lands, so ``/_rsrc/common/app_images/../../../etc/passwd``
(or ``%2e%2e``, ``..%2f``) reads any file the process can read -- its own servers
(``gnrwsgiserve``, ``serveprod``) included. The rule here runs on every HTTP and
WebSocket scope, before the gateway, the ASGI apps or ``/_server`` see it, so no
handler ever gets such a path, whatever it does with it.

The path rule (``path_refusal``), on the raw request target, decoded once:

- 400: malformed percent-encoding, bytes that are not UTF-8 once decoded (overlong
  forms such as ``%c0%ae`` included), NUL or another control character;
- 404: a ``.`` or ``..`` segment (also as ``..;param``), an encoded ``/`` or ``\\``
  inside a segment, a literal ``\\``, or a ``%XX`` left after decoding (a double
  encoding: a second decoder anywhere behind would change the path).

The body limits (``RequestLimits``), enforced while the body is read, never after
buffering it: an urlencoded form over ``max_form_bytes`` or a multipart body over
``max_upload_bytes`` is answered 413 -- at once when ``Content-Length`` says so, else
as soon as the bytes received pass the limit; the application then reads the end of
the body (``http.disconnect``) and whatever it answers is dropped. GenroPy parses a
form in the thread that serves it, holding the GIL: an unbounded form stalls every
request of the process. Header size and the header-read deadline are the HTTP
protocol's (``http_protocol``).

One reading of every request (``repeated_header``): a second ``Content-Type``,
``Content-Length``, ``Transfer-Encoding`` or ``Host`` is 400 and the connection closed
(the limit above and the application would otherwise read different headers: the guard
the last, WSGI the first).

Bodies have a deadline (``BodyReader``): the whole body must arrive within
``GENROPY_BODY_TIMEOUT`` seconds plus one second per ``GENROPY_BODY_MIN_RATE`` bytes, else
408 and the connection closed. Every urlencoded form (up to its limit) and every body up
to ``BUFFER_BYTES`` is received on the event loop before the application is called: a
client that sends a POST's headers and then stalls holds a socket, never a WSGI thread.
Larger bodies stream to the application under the same deadline.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from genropy_asgi import settings

MAX_FORM_BYTES_VARIABLE = "GENROPY_MAX_FORM_BYTES"
MAX_UPLOAD_BYTES_VARIABLE = "GENROPY_MAX_UPLOAD_BYTES"
MAX_HEADER_BYTES_VARIABLE = "GENROPY_MAX_HEADER_BYTES"
HEADER_TIMEOUT_VARIABLE = "GENROPY_HEADER_TIMEOUT"
BODY_TIMEOUT_VARIABLE = "GENROPY_BODY_TIMEOUT"
BODY_MIN_RATE_VARIABLE = "GENROPY_BODY_MIN_RATE"

DEFAULT_MAX_FORM_BYTES = settings.setting(MAX_FORM_BYTES_VARIABLE).default
DEFAULT_MAX_UPLOAD_BYTES = settings.setting(MAX_UPLOAD_BYTES_VARIABLE).default
DEFAULT_MAX_HEADER_BYTES = settings.setting(MAX_HEADER_BYTES_VARIABLE).default
DEFAULT_HEADER_TIMEOUT = settings.setting(HEADER_TIMEOUT_VARIABLE).default
DEFAULT_BODY_TIMEOUT = settings.setting(BODY_TIMEOUT_VARIABLE).default
DEFAULT_BODY_MIN_RATE = settings.setting(BODY_MIN_RATE_VARIABLE).default
BUFFER_BYTES = 1 << 20
"""Bodies up to this size (declared by ``Content-Length``) are received whole before the app runs."""
SINGLE_HEADERS = (b"content-type", b"content-length", b"transfer-encoding", b"host")
"""Headers a request may carry once: two readings of them would differ (RFC 9110 5.3, 9112 6.3)."""

_MALFORMED_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_ENCODED_SEPARATOR = re.compile(rb"%(2[fF]|5[cC])")
_LEFTOVER_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
DOT_SEGMENTS = (".", "..")


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str


def path_refusal(raw_path: bytes) -> Refusal | None:
    """Why this request target must never be routed (``None``: it may be)."""
    if _MALFORMED_ESCAPE.search(raw_path):
        return Refusal(400, "malformed percent-encoding")
    if _ENCODED_SEPARATOR.search(raw_path):
        return Refusal(404, "encoded path separator")
    try:
        path = urllib.parse.unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(400, "path is not UTF-8")
    if _CONTROL.search(path):
        return Refusal(400, "control character in path")
    if "\\" in path:
        return Refusal(404, "backslash in path")
    if _LEFTOVER_ESCAPE.search(path):
        return Refusal(404, "double percent-encoding")
    for segment in path.split("/"):
        if segment.partition(";")[0] in DOT_SEGMENTS:
            return Refusal(404, "dot segment in path")
    return None


def scope_raw_path(scope: Mapping[str, Any]) -> bytes:
    """The request target's path as sent (servers without ``raw_path``: the decoded one)."""
    raw = scope.get("raw_path")
    if raw:
        return bytes(raw).partition(b"?")[0]
    return scope.get("path", "").encode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class RequestLimits:
    """Request limits in bytes (and the header deadline in seconds); 0 means no limit."""

    max_form_bytes: int = DEFAULT_MAX_FORM_BYTES
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    body_min_rate: int = DEFAULT_BODY_MIN_RATE

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> RequestLimits:
        """The limits the ``GENROPY_MAX_*`` / ``GENROPY_HEADER_TIMEOUT`` variables ask for.

        Raises ``settings.SettingError`` (one line naming the variable) for a malformed value.
        """
        return cls(max_form_bytes=settings.read(environ, MAX_FORM_BYTES_VARIABLE),
                   max_upload_bytes=settings.read(environ, MAX_UPLOAD_BYTES_VARIABLE),
                   max_header_bytes=settings.read(environ, MAX_HEADER_BYTES_VARIABLE),
                   header_timeout=settings.read(environ, HEADER_TIMEOUT_VARIABLE),
                   body_timeout=settings.read(environ, BODY_TIMEOUT_VARIABLE),
                   body_min_rate=settings.read(environ, BODY_MIN_RATE_VARIABLE))

    def body_deadline(self, received: int) -> float:
        """Seconds from the body's start by which ``received`` bytes must have arrived."""
        return self.body_timeout + (received / self.body_min_rate if self.body_min_rate else 0.0)

    def body_limit(self, headers: Mapping[bytes, bytes]) -> tuple[int, str] | None:
        """The limit for this body and the variable that sets it (``None``: no limit)."""
        media_type = headers.get(b"content-type", b"").partition(b";")[0].strip().lower()
        if media_type == b"application/x-www-form-urlencoded" and self.max_form_bytes:
            return self.max_form_bytes, MAX_FORM_BYTES_VARIABLE
        if media_type.startswith(b"multipart/") and self.max_upload_bytes:
            return self.max_upload_bytes, MAX_UPLOAD_BYTES_VARIABLE
        return None


Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
App = Callable[[dict, Receive, Send], Awaitable[None]]


async def send_refusal(send: Send, status: int, text: str) -> None:
    """A short plain-text answer that closes the connection."""
    body = f"{text}\n".encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def repeated_header(headers: Any) -> str | None:
    """The first of ``SINGLE_HEADERS`` that ``headers`` (ASGI pairs) carries more than once."""
    seen: set[bytes] = set()
    for name, _ in headers:
        name = bytes(name).lower()
        if name in SINGLE_HEADERS:
            if name in seen:
                return name.decode()
            seen.add(name)
    return None


def has_body(headers: Mapping[bytes, bytes]) -> bool:
    declared = headers.get(b"content-length", b"").strip()
    return b"transfer-encoding" in headers or (bool(declared) and declared != b"0")


async def guard_http(scope: dict, receive: Receive, send: Send, app: App, limits: RequestLimits) -> None:
    """Serve ``scope`` with ``app`` unless its path or framing is refused, or its body passes its
    limit or its deadline."""
    refusal = path_refusal(scope_raw_path(scope))
    if refusal is not None:
        await send_refusal(send, refusal.status, "Bad Request" if refusal.status == 400 else "Not Found")
        return
    pairs = scope.get("headers") or ()
    repeated = repeated_header(pairs)
    if repeated is not None:
        await send_refusal(send, 400, f"Bad Request: repeated {repeated} header")
        return
    headers = dict(pairs)
    if not has_body(headers):
        await app(scope, receive, send)
        return
    limit = limits.body_limit(headers)
    maximum, variable = limit if limit is not None else (0, "")
    declared = headers.get(b"content-length", b"").strip()
    length = int(declared) if declared.isdigit() else None
    if maximum and length is not None and length > maximum:
        await send_refusal(send, 413, f"Request body too large (over {maximum} bytes, {variable})")
        return
    reader = BodyReader(receive, send, limits, maximum, variable)
    is_form = variable == MAX_FORM_BYTES_VARIABLE
    if is_form or (length is not None and length <= BUFFER_BYTES):
        if await reader.read_whole():
            await app(scope, reader.replay, reader.send)
        return
    await app(scope, reader.receive, reader.send)


class BodyReader:
    """``receive``/``send`` for one request body: at most ``maximum`` bytes (0: no limit), all of
    it within the limits' deadline; received whole first (``read_whole``) or streamed."""

    def __init__(self, receive: Receive, send: Send, limits: RequestLimits, maximum: int, variable: str) -> None:
        self._receive = receive
        self._send = send
        self._limits = limits
        self._maximum = maximum
        self._variable = variable
        self._received = 0
        self._started_at = time.monotonic()
        self._refused = False
        self._started = False
        self._replay: list[dict] = []

    async def read_whole(self) -> bool:
        """Receive the whole body now (``False``: refused, the answer was sent)."""
        while True:
            message = await self.receive()
            if self._refused or message.get("type") != "http.request":
                return not self._refused and message.get("type") != "http.disconnect"
            self._replay.append(message)
            if not message.get("more_body"):
                return True

    async def replay(self) -> dict:
        """The body received by ``read_whole``, then what the connection says next."""
        if self._replay:
            return self._replay.pop(0)
        return await self._receive()

    async def receive(self) -> dict:
        if self._refused:
            return {"type": "http.disconnect"}
        remaining = self._started_at + self._limits.body_deadline(self._received) - time.monotonic()
        try:
            message = await asyncio.wait_for(self._receive(), max(remaining, 0.0))
        except TimeoutError:
            await self._refuse(408, f"Request body too slow (over {self._limits.body_timeout:g} s, "
                                    f"{BODY_TIMEOUT_VARIABLE} / {BODY_MIN_RATE_VARIABLE})")
            return {"type": "http.disconnect"}
        if message.get("type") == "http.request":
            self._received += len(message.get("body", b""))
            if self._maximum and self._received > self._maximum:
                await self._refuse(413, f"Request body too large (over {self._maximum} bytes, {self._variable})")
                return {"type": "http.disconnect"}
        return message

    async def _refuse(self, status: int, text: str) -> None:
        self._refused = True
        if not self._started:
            self._started = True
            await send_refusal(self._send, status, text)

    async def send(self, message: dict) -> None:
        if self._refused:
            return  # the refusal was the answer
        if message.get("type") == "http.response.start":
            self._started = True
        await self._send(message)
