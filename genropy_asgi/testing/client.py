"""A tiny GenroPy browser for tests: loads a page, keeps cookies, calls its RPCs.

A GET of a page returns the shell with its ``page_id``; an RPC is a POST to the
same page with ``method=<name>&page_id=<id>`` and the keyword arguments, answered
with a GenroPy Bag as XML (``<GenRoBag><result ...>``).
"""

from __future__ import annotations

import contextlib
import json
import re
import time

import httpx

PAGE_ID = re.compile(r"page_id:'([^']+)'")
RESULT = re.compile(r"<result[^>]*>(.*?)</result>", re.S)
RESULT_TYPE = re.compile(r"<result[^>]*_T=\"(\w+)\"")


class GenroPage:
    def __init__(self, base_url: str, page: str = "index", client: httpx.Client | None = None):
        self.client = client or httpx.Client(base_url=base_url, timeout=60)
        self.page = page
        response = self.client.get(f"/{page}")
        response.raise_for_status()
        self.shell = response.text
        match = PAGE_ID.search(self.shell)
        assert match, f"no page_id in /{page}"
        self.page_id = match.group(1)

    def rpc_raw(self, method: str, **kwargs) -> httpx.Response:
        data = {"method": method, "page_id": self.page_id, **kwargs}
        return self.client.post(f"/{self.page}", data=data)

    def rpc(self, method: str, **kwargs) -> str:
        response = self.rpc_raw(method, **kwargs)
        assert response.status_code == 200, f"{method}: HTTP {response.status_code}\n{response.text[:2000]}"
        match = RESULT.search(response.text)
        assert match, f"{method}: no <result> in\n{response.text[:2000]}"
        return match.group(1)


@contextlib.contextmanager
def open_channel(base_url: str, page: GenroPage):
    """What genro.wsk does on a page: a WebSocket to ``/websocket`` on the page's own origin,
    then ``connected`` with its page_id; a ping must come back as ``pong``."""
    from websockets.sync.client import connect

    with connect(base_url.replace("http", "ws", 1) + "/websocket", open_timeout=10) as channel:
        channel.send(json.dumps({"command": "connected", "page_id": page.page_id}))
        channel.send(json.dumps({"command": "ping", "lastEventAge": 0}))
        assert channel.recv(timeout=10) == "pong"
        yield channel


def next_publish(channel, topic: str, timeout: float = 30) -> str:
    """The next ``publish`` envelope on ``topic`` (other messages are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        message = channel.recv(timeout=max(0.1, deadline - time.monotonic()))
        if isinstance(message, str) and f"<topic>{topic}</topic>" in message:
            return message
