"""Surface: GenroPy's real-time channel, through the relay and on ``gnr web async``'s own socket.

A cross-origin or cookie-less handshake is 403; a socket speaks only for a page of its own
session; shared-object ids never leave GenroPy's shared-objects folder (read or write, any
``som.*`` command, any spelling); messages and connections are bounded with close codes;
a hostile ``Host`` is refused, not a crash."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect, unix_connect

from genropy_asgi.testing.client import cookie_header

pytestmark = pytest.mark.site

TRAVERSALS = ["../../../gnr/environment", "..%2F..%2Fgnr%2Fenvironment", "/etc/passwd", "a/../../b",
              "..\\..\\x", "x\x00y", " ../../x", "../../../../../../tmp/written", "::x"]
SOM_COMMANDS = ["som.subscribe", "som.loadSharedObject", "som.saveSharedObject", "som.datachange",
                "som.dispatch", "som.onPathFocus", "som.unsubscribe"]


def ws_url(target) -> str:
    return target.base_url.replace("http", "ws") + "/websocket"



def xml_files(root: Path) -> set[Path]:
    return {path for path in root.rglob("*.xml")}


def send_and_close_code(target, messages: list[str], headers: dict[str, str]) -> int | None:
    with connect(ws_url(target), additional_headers=headers, open_timeout=10) as ws:
        try:
            for message in messages:
                ws.send(message)
            ws.recv(timeout=3)
            ws.recv(timeout=3)
        except ConnectionClosed:
            pass
        except TimeoutError:
            return None
        return ws.close_code


def test_a_cross_origin_or_cookieless_handshake_is_403(target):
    client, _ = target.page()
    for headers in ({"Origin": "http://evil.example", "Cookie": cookie_header(client)},
                    {"Origin": target.base_url.replace("127.0.0.1", "127.0.0.2"), "Cookie": cookie_header(client)},
                    {"Origin": "null", "Cookie": cookie_header(client)},
                    {"Origin": target.base_url},  # same origin, no session
                    {"Origin": target.base_url, "Cookie": "demo=forged"}):
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url(target), additional_headers=headers, open_timeout=10)
        assert refused.value.response.status_code == 403, headers


def test_the_sites_own_page_connects_and_talks(target):
    client, page_id = target.page()
    with connect(ws_url(target), additional_headers={"Origin": target.base_url, "Cookie": cookie_header(client)}) as ws:
        ws.send(json.dumps({"command": "connected", "page_id": page_id}))
        ws.send(json.dumps({"command": "echo", "data": "still here"}))
        assert ws.recv(timeout=10) == "still here"


def test_a_socket_cannot_speak_for_another_sessions_page(target):
    _, victim_page = target.page()
    attacker, own_page = target.page()
    headers = {"Cookie": cookie_header(attacker)}
    for messages in ([json.dumps({"command": "connected", "page_id": victim_page})],
                     [json.dumps({"command": "register_service", "page_id": victim_page, "gateway_service": "x"})],
                     [json.dumps({"command": "call", "method": "x"})],  # before binding
                     [json.dumps({"command": "connected", "page_id": own_page}),
                      json.dumps({"command": "route", "target_page_id": victim_page, "envelope": "<x/>"})],
                     [json.dumps({"command": "connected", "page_id": own_page}),
                      json.dumps({"command": "gnrsite.storage_handler.x"})],
                     [json.dumps({"command": "connected", "page_id": own_page}), "not json"]):
        assert send_and_close_code(target, messages, headers) == 1008, messages


def test_shared_object_ids_never_leave_their_folder_through_the_relay(target):
    root = target.workspace.root
    before = xml_files(root)
    client, page_id = target.page()
    headers = {"Cookie": cookie_header(client)}
    for command in SOM_COMMANDS:
        for shared_id in TRAVERSALS:
            message = {"command": command, "shared_id": shared_id, "so_method": "save"}
            code = send_and_close_code(target, [json.dumps({"command": "connected", "page_id": page_id}),
                                                json.dumps(message)], headers)
            assert code == 1008, (command, shared_id)
    assert xml_files(root) == before


def test_shared_object_ids_never_leave_their_folder_on_the_async_servers_own_socket(target):
    """``gnr web async`` is reachable without the relay: its own fix (compat.async_server) holds."""
    sockets = list(target.workspace.root.rglob("async.sock"))
    assert sockets, "gnr web async's socket not found"
    root = target.workspace.root
    before = xml_files(root)
    client, page_id = target.page()
    with unix_connect(str(sockets[0]), uri="ws://localhost/websocket") as ws:
        ws.send(json.dumps({"command": "connected", "page_id": page_id}))
        for command in SOM_COMMANDS:
            for shared_id in TRAVERSALS:
                ws.send(json.dumps({"command": command, "shared_id": shared_id, "result_token": "t",
                                    "so_method": "save"}))
        ws.send(json.dumps({"command": "echo", "data": "end"}))
        replies = []
        while (reply := ws.recv(timeout=20)) != "end":
            replies.append(reply)
    assert xml_files(root) == before
    assert not any(target.leaked(reply.encode()) for reply in replies)


def test_messages_and_connections_are_bounded_with_close_codes(target):
    client, page_id = target.page()
    headers = {"Cookie": cookie_header(client)}
    big = json.dumps({"command": "echo", "data": "x" * 70000})  # GENROPY_WS_MAX_MESSAGE_BYTES=65536 here
    code = send_and_close_code(target, [json.dumps({"command": "connected", "page_id": page_id}), big], headers)
    assert code == 1009
    opened = [connect(ws_url(target), additional_headers=headers) for _ in range(6)]  # the per-client cap
    try:
        with connect(ws_url(target), additional_headers=headers) as extra:
            with pytest.raises(ConnectionClosed):
                extra.recv(timeout=10)
            assert extra.close_code == 1008
    finally:
        for ws in opened:
            ws.close()
    time.sleep(0.5)
    with connect(ws_url(target), additional_headers=headers) as again:  # freed when they closed
        again.send(json.dumps({"command": "echo", "data": "ok"}))
        assert again.recv(timeout=10) == "ok"


@pytest.mark.parametrize("host", ["x#", "a b", "evil/path", "[::1", "x:99999999", ""])
def test_a_hostile_host_is_refused_not_a_crash(target, host):
    with socket.create_connection(("127.0.0.1", target.port), timeout=10) as sock:
        sock.sendall(f"GET /websocket HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        answer = sock.recv(4096)
    assert answer.split(b" ", 2)[1] in (b"400", b"403"), answer[:200]
    assert b"Traceback" not in answer
