"""The wsproxy fix: present in every process, and still needed.

A real ``WsgiWebSocketHandler`` (GenroPy's sender) posts to a real aiohttp server on a
Unix socket running GenroPy's own ``wsproxy_handler``; the test reads what arrives.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
import time

from genropy_asgi.compat.wsproxy import urlencode_without_none

CHILD = textwrap.dedent("""
    from gnr.web.gnrwsgisite_proxy import gnrwebsockethandler as m
    print(getattr(m, 'GENROPY_ASGI_COMPAT', 'untouched'))
    print(m.urllib.parse.urlencode(dict(page_id='*', remote_service=None, envelope='<x/>')))
""")


def test_the_bug_is_still_there():
    """Fails the day GenroPy changes either side: then drop or revisit wsproxy_compat."""
    from gnr.web import gnrasync
    from gnr.web.gnrwsgisite_proxy import gnrwebsockethandler

    sender = inspect.getsource(gnrwebsockethandler.WsgiWebSocketHandler.sendCommandToPage)
    receiver = inspect.getsource(gnrasync.wsproxy_handler)
    assert "remote_service=None" in sender, "GenroPy no longer sends remote_service=None: drop wsproxy_compat"
    assert "form.get('remote_service') or ''" in receiver, "gnr web async changed its wsproxy: revisit"


def test_the_connection_is_still_shared_between_threads():
    """Fails the day GenroPy gives each thread its own connection: then drop the lock."""
    from gnr.web.gnrwsgisite_proxy import gnrwebsockethandler

    source = inspect.getsource(inspect.unwrap(gnrwebsockethandler.WsgiWebSocketHandler.socketConnection.fget))
    assert "self._socketConnection = _socketConnection" in source
    for name in ("sendCommandToPage", "close", "checkSocket"):
        assert getattr(getattr(gnrwebsockethandler.WsgiWebSocketHandler, name), "genropy_asgi_locked", False)


def test_every_new_interpreter_gets_the_fix():
    result = subprocess.run([sys.executable, "-c", CHILD], env=dict(os.environ), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[:2] == ["urlencode without None", "page_id=%2A&envelope=%3Cx%2F%3E"]


def test_urlencode_without_none_keeps_everything_else():
    assert urlencode_without_none({"a": None, "b": "", "c": 0, "d": "x y"}) == "b=&c=0&d=x+y"
    assert urlencode_without_none([("a", "1")]) == "a=1"


def test_a_push_from_the_wsgi_side_reaches_the_page(tmp_path):
    """GenroPy's sender -> GenroPy's wsproxy_handler: the page's channel gets the envelope."""
    import asyncio
    import threading

    from aiohttp import web
    from gnr.web import gnrasync
    from gnr.web.gnrwsgisite_proxy.gnrwebsockethandler import WsgiWebSocketHandler

    received: list[str] = []

    class Channel:
        async def write_message(self, message):
            received.append(message)

    class FakeAsyncServer:  # only what wsproxy_handler reads: the page channels
        channels = {"page1": Channel()}
        remote_services: dict = {}

    socket_path = str(tmp_path / "async.sock")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start():
        app = web.Application()
        app[gnrasync.SERVER_KEY] = FakeAsyncServer()
        app.router.add_post("/wsproxy", gnrasync.wsproxy_handler)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.UnixSite(runner, socket_path).start()
        return runner

    runner = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    errors: list[BaseException] = []
    try:
        sender = WsgiWebSocketHandler.__new__(WsgiWebSocketHandler)
        sender.socket_path, sender.proxyurl = socket_path, "/wsproxy"
        sender.publishToClient("page1", topic="hello", data="world")
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(received) == 1 and "<topic>hello</topic>" in received[0]

        def push_many(n: int) -> None:  # what GenroPy's request threads do at once
            try:
                for i in range(50):
                    sender.publishToClient("page1", topic=f"t{n}", data=str(i))
            except BaseException as exc:  # CannotSendRequest without the lock
                errors.append(exc)

        pushers = [threading.Thread(target=push_many, args=(n,)) for n in range(8)]
        for pusher in pushers:
            pusher.start()
        for pusher in pushers:
            pusher.join(60)
        deadline = time.monotonic() + 20
        while len(received) < 1 + 8 * 50 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    assert not errors, errors[:3]
    assert len(received) == 1 + 8 * 50  # 8 threads x 50 pushes, none lost
