"""``supervisorctl.wake``: one connection to supervisord's socket as soon as it listens
(its loop then starts the programs at once instead of after its first one-second poll)."""

from __future__ import annotations

import socket
import threading

from genropy_asgi.container.supervisorctl import SOCKET_FILE, wake


def test_wake_connects_once_the_socket_listens(tmp_path):
    accepted = threading.Event()

    def listen_later() -> None:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(tmp_path / SOCKET_FILE))
        server.listen()
        server.accept()[0].close()
        accepted.set()
        server.close()

    timer = threading.Timer(0.2, listen_later)
    timer.start()
    assert wake(str(tmp_path), alive=lambda: True, limit=5)
    assert accepted.wait(5)
    timer.join()


def test_wake_gives_up_when_supervisord_died(tmp_path):
    assert wake(str(tmp_path), alive=lambda: False) is False
