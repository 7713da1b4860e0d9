"""gnrasgiserve binds its own listening socket: busy ports are clear errors, and the
socket is declared TCP so asyncio turns Nagle off on every accepted connection."""

from __future__ import annotations

import socket

import pytest

from genropy_asgi.launch import LaunchError
from genropy_asgi.launch.cli import bind_socket


def test_listening_socket_is_declared_tcp():
    sock = bind_socket("127.0.0.1", 0)
    try:
        # asyncio's _set_nodelay only acts when proto == IPPROTO_TCP (else ~40 ms stalls)
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_busy_port_is_a_launch_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(LaunchError, match=f"port {port} on 127.0.0.1 is already in use"):
            bind_socket("127.0.0.1", port)
