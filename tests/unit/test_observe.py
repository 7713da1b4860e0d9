"""Around every request (genropy_asgi.asgi.observe, .metrics): its id, its kind, its access line."""

from __future__ import annotations

import asyncio
import logging

import pytest

from genropy_asgi.asgi.metrics import STORAGE_PREFIXES, request_kind
from genropy_asgi.asgi.observe import RequestObserver, request_id


@pytest.mark.parametrize("scope, kind", [
    ({"type": "http", "method": "GET", "path": "/index"}, "page"),
    ({"type": "http", "method": "POST", "path": "/index"}, "rpc"),
    ({"type": "http", "method": "GET", "path": "/_ping"}, "rpc"),
    ({"type": "http", "method": "GET", "path": "/_dojo/11/dojo/dojo.js"}, "static"),
    ({"type": "http", "method": "GET", "path": "/_site/_static/x.js"}, "static"),
    ({"type": "http", "method": "GET", "path": "/_server/ready"}, "server"),
    ({"type": "http", "method": "GET", "path": "/api/items"}, "asgi"),
    ({"type": "websocket", "path": "/websocket"}, "websocket"),
])
def test_kinds(scope, kind):
    assert request_kind(scope, frozenset({"api", "_server"}), STORAGE_PREFIXES) == kind


def test_a_clients_request_id_is_kept_only_when_well_formed():
    assert request_id([(b"x-request-id", b"abc-123.X:y")]) == ("abc-123.X:y", True)
    for bad in (b"", b"a b", b"x" * 129, b"\xff", b"a\r\nb"):
        rid, kept = request_id([(b"X-Request-ID", bad)])
        assert not kept and len(rid) == 32


def run(observer, path, headers=()):
    sent, seen = [], {}

    async def app(scope, receive, send):
        seen.update(scope)
        await send({"type": "http.response.start", "status": 204, "headers": [(b"x-request-id", b"spoofed")]})
        await send({"type": "http.response.body", "body": b""})

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": list(headers), "client": ("1.2.3.4", 5)}
    asyncio.run(observer("page", scope, None, send, app))
    return dict(sent[0]["headers"]), seen


def test_the_id_reaches_genropy_and_the_answer_and_the_access_line(caplog):
    with caplog.at_level(logging.INFO, logger="genropy_asgi.access"):
        headers, seen = run(RequestObserver(None, "on"), "/index")
    rid = headers[b"x-request-id"].decode()
    assert rid != "spoofed" and (b"x-request-id", rid.encode()) in seen["headers"]  # GenroPy: HTTP_X_REQUEST_ID
    [line] = caplog.records
    assert line.request_id == rid and '"GET /index HTTP/1.1" 204' in line.getMessage()
    headers, _ = run(RequestObserver(None, "on"), "/index", [(b"x-request-id", b"from-the-proxy")])
    assert headers[b"x-request-id"] == b"from-the-proxy"


def test_probes_are_not_logged_unless_all(caplog):
    with caplog.at_level(logging.INFO, logger="genropy_asgi.access"):
        run(RequestObserver(None, "on"), "/_server/ready")
        run(RequestObserver(None, "off"), "/index")
        assert not caplog.records
        run(RequestObserver(None, "all"), "/_server/health")
        assert len(caplog.records) == 1
