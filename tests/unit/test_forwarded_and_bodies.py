"""The request front on its own (ASGI, no server): forwarded headers only from trusted peers,
a repeated framing header refused, bodies received whole on the loop or under their deadline."""

from __future__ import annotations

import asyncio

from genropy_asgi.asgi.forwarded import ForwardedHeaders, TrustedPeers
from genropy_asgi.asgi.request_guard import RequestLimits, guard_http, repeated_header


def run(app, scope, messages, limits=None, delay=0.0):
    sent = []

    async def receive():
        if messages:
            if delay:
                await asyncio.sleep(delay)
            return messages.pop(0)
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    async def main():
        if limits is None:
            await app(scope, receive, send)
        else:
            await guard_http(scope, receive, send, app, limits)

    asyncio.run(main())
    return sent


def http_scope(headers, client="203.0.113.9"):
    return {"type": "http", "method": "POST", "path": "/index", "raw_path": b"/index", "query_string": b"",
            "headers": headers, "client": (client, 5000), "scheme": "http"}


def test_forwarded_headers_reach_the_app_only_from_trusted_peers():
    seen = []

    async def app(scope, receive, send):
        seen.append((scope["client"][0], dict(scope["headers"]).get(b"x-forwarded-for")))

    front = ForwardedHeaders(app, "10.0.0.0/8,127.0.0.1")
    forged = [(b"x-forwarded-for", b"6.6.6.6"), (b"x-real-ip", b"6.6.6.6"), (b"forwarded", b"for=6.6.6.6")]
    run(front, http_scope(forged, client="203.0.113.9"), [])
    run(front, http_scope(forged, client="10.1.2.3"), [])
    assert seen[0] == ("203.0.113.9", None)  # untrusted: dropped
    assert seen[1][0] == "6.6.6.6"  # a trusted proxy: uvicorn's middleware applied them
    assert "10.9.9.9" in TrustedPeers("10.0.0.0/8") and "11.0.0.1" not in TrustedPeers("10.0.0.0/8")
    assert "anything" in TrustedPeers("*") and None not in TrustedPeers("127.0.0.1")


def test_a_repeated_framing_header_is_found():
    assert repeated_header([(b"Content-Type", b"a"), (b"content-type", b"b")]) == "content-type"
    assert repeated_header([(b"host", b"a"), (b"accept", b"b"), (b"accept", b"c")]) is None


def test_a_small_body_is_received_whole_before_the_app_runs():
    order = []

    async def app(scope, receive, send):
        order.append("app")
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        order.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})

    messages = [{"type": "http.request", "body": b"a=", "more_body": True},
                {"type": "http.request", "body": b"1", "more_body": False}]
    headers = [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"3")]
    sent = run(app, http_scope(headers), messages, RequestLimits(), delay=0.01)
    assert order == ["app", b"a=1"] and sent[0]["status"] == 200


def test_a_stalled_body_is_408_and_the_app_never_runs():
    called = []

    async def app(scope, receive, send):
        called.append(True)

    headers = [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"10")]
    limits = RequestLimits(body_timeout=0.2, body_min_rate=0)
    sent = run(app, http_scope(headers), [{"type": "http.request", "body": b"a=", "more_body": True}], limits)
    assert sent[0]["status"] == 408 and not called
