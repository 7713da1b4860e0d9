"""``GET {mount}/tables/{pkg.table}/changes``: one table's changes as Server-Sent Events.

The wire, per the HTML standard's ``text/event-stream``::

    retry: 2000
    event: ready                      the subscription is in place: what is committed from now on arrives
    data: {"table": "pkg.table"}

    id: 1
    event: update                     insert, update or delete, as GenroPy committed it
    data: {"table": ..., "pkey": ..., "record": {...}}

    : keep-alive                      every HEARTBEAT_SECONDS without a change

    event: error                      the last message when the server ends the stream
    data: {"error": "..."}

``record`` is the record as the client may read it now (the columns of its view), ``null`` for a
delete or when the record is no longer there for it; ``old_pkey`` is added when an update changed
the key; the key is left out where the client does not see the table's key column, and an insert
it cannot see is not sent at all. The client's credentials and rights are checked again with
every batch and at every keep-alive (GenroPy's answers are remembered 30 s), so a revoked token or
a removed tag ends the stream, quiet or not. A client ``change_feed.MAX_BATCHES`` collections
behind, or one that does not take a chunk within ``SEND_SECONDS``, is ended, never buffered
without end; a stopping server ends every stream (``retry`` tells the client when to come back).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from genropy_asgi.data_api.change_feed import Batch, Subscriber

HEARTBEAT_SECONDS = 15.0
MAX_STREAMS = 100
"""Open streams per server process; one more is 503 with ``Retry-After``."""
MAX_STREAMS_PER_USER = 10
"""Open streams of one user per server process; one more is 429."""
SEND_SECONDS = 10.0
RETRY_MILLISECONDS = 2000
WAKE_SECONDS = 1.0  # how often a quiet stream looks at its client and at the server's stop
HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-store"),
           (b"x-accel-buffering", b"no"), (b"x-content-type-options", b"nosniff")]


class StreamEnded(Exception):
    """Raised by ``describe``: the stream ends with this text (rights lost, a failure)."""


Describe = Callable[[list[Batch]], Awaitable[list[tuple[str, dict[str, Any]]]]]
"""Batches -> (event, payload) messages, as the client may see them now (its rights checked again,
also for no batch: the keep-alive's check); blocking work elsewhere."""


def message(event: str | None = None, data: Any = None, event_id: int | None = None,
            comment: str | None = None) -> bytes:
    """One event-stream message; ``data`` as one line of JSON (ASCII: no line break can appear)."""
    lines = []
    if comment is not None:
        lines.append(f": {comment}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event is not None:
        lines.append(f"event: {event}")
    if data is not None:
        lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode()


async def serve(send: Any, receive: Any, subscriber: Subscriber, describe: Describe,
                stopping: Callable[[], bool]) -> None:
    """Stream ``subscriber``'s changes until the client goes, the server stops or ``describe``
    ends it."""
    gone = asyncio.Event()

    async def watch_client() -> None:
        while True:
            if (await receive())["type"] == "http.disconnect":
                gone.set()
                return

    async def body(chunk: bytes, more: bool = True) -> None:
        """Raises ``TimeoutError`` when the client does not take it in ``SEND_SECONDS``."""
        await asyncio.wait_for(send({"type": "http.response.body", "body": chunk, "more_body": more}), SEND_SECONDS)

    watcher = asyncio.create_task(watch_client())
    loop = asyncio.get_running_loop()
    quiet_since, sent = loop.time(), 0
    try:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await body(f"retry: {RETRY_MILLISECONDS}\n".encode() + message("ready", {"table": subscriber.table}))
        while not gone.is_set():
            if stopping():
                await body(message("error", {"error": "the server is stopping: reconnect"}), more=False)
                return
            if subscriber.overflowed.is_set():
                await body(message("error", {"error": "too far behind: reconnect and read again"}), more=False)
                return
            try:
                await asyncio.wait_for(subscriber.wake.wait(), WAKE_SECONDS)
            except TimeoutError:
                pass
            subscriber.wake.clear()
            batches = subscriber.drain()
            quiet = not batches and loop.time() - quiet_since >= HEARTBEAT_SECONDS
            if not batches and not quiet:
                continue
            try:
                messages = await describe(batches)
            except StreamEnded as ended:
                await body(message("error", {"error": str(ended)}), more=False)
                return
            chunk = b""
            for event, payload in messages:
                sent += 1
                chunk += message(event, payload, sent)
            if quiet:
                chunk += message(comment="keep-alive")
            if chunk:
                await body(chunk)
                quiet_since = loop.time()
    except TimeoutError:
        return  # a client that does not read: its stream ends (uvicorn closes the connection)
    finally:
        watcher.cancel()
