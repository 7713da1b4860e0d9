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
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping

from genropy_asgi import settings

MAX_FORM_BYTES_VARIABLE = "GENROPY_MAX_FORM_BYTES"
MAX_UPLOAD_BYTES_VARIABLE = "GENROPY_MAX_UPLOAD_BYTES"
MAX_HEADER_BYTES_VARIABLE = "GENROPY_MAX_HEADER_BYTES"
HEADER_TIMEOUT_VARIABLE = "GENROPY_HEADER_TIMEOUT"

DEFAULT_MAX_FORM_BYTES = settings.setting(MAX_FORM_BYTES_VARIABLE).default
DEFAULT_MAX_UPLOAD_BYTES = settings.setting(MAX_UPLOAD_BYTES_VARIABLE).default
DEFAULT_MAX_HEADER_BYTES = settings.setting(MAX_HEADER_BYTES_VARIABLE).default
DEFAULT_HEADER_TIMEOUT = settings.setting(HEADER_TIMEOUT_VARIABLE).default

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

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> RequestLimits:
        """The limits the ``GENROPY_MAX_*`` / ``GENROPY_HEADER_TIMEOUT`` variables ask for.

        Raises ``settings.SettingError`` (one line naming the variable) for a malformed value.
        """
        return cls(max_form_bytes=settings.read(environ, MAX_FORM_BYTES_VARIABLE),
                   max_upload_bytes=settings.read(environ, MAX_UPLOAD_BYTES_VARIABLE),
                   max_header_bytes=settings.read(environ, MAX_HEADER_BYTES_VARIABLE),
                   header_timeout=settings.read(environ, HEADER_TIMEOUT_VARIABLE))

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


async def guard_http(scope: dict, receive: Receive, send: Send, app: App, limits: RequestLimits) -> None:
    """Serve ``scope`` with ``app`` unless its path is refused or its body passes its limit."""
    refusal = path_refusal(scope_raw_path(scope))
    if refusal is not None:
        await send_refusal(send, refusal.status, "Bad Request" if refusal.status == 400 else "Not Found")
        return
    headers = dict(scope.get("headers") or ())
    limit = limits.body_limit(headers)
    if limit is None:
        await app(scope, receive, send)
        return
    maximum, variable = limit
    declared = headers.get(b"content-length", b"").strip()
    if declared.isdigit() and int(declared) > maximum:
        await send_refusal(send, 413, f"Request body too large (over {maximum} bytes, {variable})")
        return
    await BoundedBody(receive, send, maximum, variable).serve(app, scope)


class BoundedBody:
    """``receive``/``send`` for one request whose body may not pass ``maximum`` bytes."""

    def __init__(self, receive: Receive, send: Send, maximum: int, variable: str) -> None:
        self._receive = receive
        self._send = send
        self._maximum = maximum
        self._variable = variable
        self._received = 0
        self._refused = False
        self._started = False

    async def serve(self, app: App, scope: dict) -> None:
        await app(scope, self.receive, self.send)

    async def receive(self) -> dict:
        if self._refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message.get("type") == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._maximum:
                self._refused = True
                if not self._started:
                    self._started = True
                    await send_refusal(self._send, 413, f"Request body too large (over {self._maximum} "
                                                        f"bytes, {self._variable})")
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: dict) -> None:
        if self._refused:
            return  # the 413 was the answer
        if message.get("type") == "http.response.start":
            self._started = True
        await self._send(message)
