"""The HTTP/1.1 parser every server of ours uses: httptools (llhttp), strict, with a header deadline.

Measured side by side on uvicorn 0.54 (``tests/unit/test_http_protocol.py`` keeps it
true): with ``h11`` a request carrying both ``Content-Length`` and ``Transfer-Encoding``
is answered and the request smuggled in its body is answered too; bare-LF line ends and
obs-fold headers are accepted. ``httptools`` answers all three with 400 and closes the
connection, so it is the parser here (it is also uvicorn's faster one).

Neither parser bounds the time a client takes to send its headers, nor (httptools) their
size: uvicorn arms its keep-alive timer only after a response. ``GuardedHttpToolsProtocol``
is uvicorn's httptools protocol with both, reading its limits from the uvicorn ``Config``
(``LIMITS_ATTRIBUTE``, set by ``configure``) or, where uvicorn builds the config itself
(gunicorn's workers), from the environment. A module-level class, so uvicorn's reloader
can pickle the config for its child:

- a **header deadline** (``RequestLimits.header_timeout``, ``GENROPY_HEADER_TIMEOUT``),
  armed when the connection opens and when each request begins, disarmed when its
  headers are complete: a client still sending headers then gets 408 and is dropped
  (one that sent nothing is just dropped);
- a **header size limit** (``max_header_bytes``, ``GENROPY_MAX_HEADER_BYTES``): request
  line and headers past it get 431, and the connection is closed.

And a **stop signal** for long responses: uvicorn's graceful shutdown calls each open
connection's ``shutdown()`` and then waits for the responses in flight; a response that never
ends by itself (the data bridge's change streams) would hold the stop for the whole drain
timeout. ``SERVER_STOPPING`` is set at the first such call, in this process, whatever started
uvicorn (``gnrasgiserve``, its reloader, gunicorn's workers); such responses look at it and end.

This is the one module that relies on uvicorn's protocol internals (its parser callbacks
``on_message_begin``/``on_url``/``on_header``/``on_headers_complete``, its
``send_400_response`` error path, ``shutdown``, ``loop`` and ``transport``);
``tests/unit/test_http_protocol.py`` fails when they change.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from genropy_asgi.asgi.request_guard import RequestLimits

REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
HEADERS_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
                     b"connection: close\r\n\r\n")


class HeadersTooLarge(Exception):
    """Raised from the parser callback: the request line and headers pass the limit."""


LIMITS_ATTRIBUTE = "genropy_limits"

SERVER_STOPPING = threading.Event()
"""Set once uvicorn begins its graceful shutdown in this process (see the module's docstring)."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a header size limit."""

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.limits: RequestLimits = getattr(config, LIMITS_ATTRIBUTE, None) or RequestLimits.from_environ(os.environ)

    def shutdown(self) -> None:
        SERVER_STOPPING.set()
        super().shutdown()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_bytes = 0
        self._chunk_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._reading_headers = False
        self._headers_too_large = False
        self._start_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_headers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._chunk_bytes = len(data)
        if self._reading_headers:
            self._header_bytes += len(data)
        super().data_received(data)
        if self._reading_headers and self._header_bytes > self.limits.max_header_bytes:
            self._drop(HEADERS_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._reading_headers:  # the next request on a kept-alive connection
            self._start_headers()
            self._header_bytes = self._chunk_bytes  # at most this chunk: checked once it is parsed

    def on_url(self, url: bytes) -> None:
        self._header_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_headers()
        if self._header_size > self.limits.max_header_bytes:
            # complete but too large: the parser turns this into its error path (send_400_response)
            self._headers_too_large = True
            raise HeadersTooLarge(self._header_size)
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if self._headers_too_large:
            self._drop(HEADERS_TOO_LARGE)
            return
        super().send_400_response(msg)

    # -- the deadline -------------------------------------------------------------
    def _start_headers(self) -> None:
        self._reading_headers = True
        self._header_bytes = 0  # bytes received while the headers are incomplete
        self._header_size = 0  # request target + headers, as parsed
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.limits.header_timeout, self._headers_timed_out)

    def _stop_headers(self) -> None:
        self._reading_headers = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self._reading_headers:
            self._drop(REQUEST_TIMEOUT if self._header_bytes else b"")

    def _drop(self, answer: bytes) -> None:
        self._stop_headers()
        if not self.transport.is_closing():
            if answer:
                self.transport.write(answer)
            self.transport.close()


UVICORN_OPTIONS: dict[str, Any] = {"http": GuardedHttpToolsProtocol}
"""What every ``uvicorn.Config`` of ours gets: the guarded parser."""


def configure(config: Any, limits: RequestLimits) -> Any:
    """Bind ``limits`` to a ``uvicorn.Config`` built with ``UVICORN_OPTIONS``; returns it. A server
    about to start in this process is not stopping (an earlier one in it may have)."""
    setattr(config, LIMITS_ATTRIBUTE, limits)
    SERVER_STOPPING.clear()
    return config
