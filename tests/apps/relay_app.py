"""A GenropyAsgiServer whose site's async server socket is SOCKET: ``python relay_app.py PORT SOCKET``.

For the relay tests: the WSGI side answers every HTTP path, a raw WebSocket app is
mounted on ``/ws``; ``/websocket`` and ``/wsproxy`` go to whatever listens on SOCKET.
"""

from __future__ import annotations

import sys

from genropy_asgi import GenropyAsgiServer


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"wsgi"]


async def raw_websocket(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": "mounted app"})
    await send({"type": "websocket.close", "code": 1000})


def main() -> None:
    port, socket_path = int(sys.argv[1]), sys.argv[2]
    server = GenropyAsgiServer(host="127.0.0.1", port=port, wsgi_app=wsgi_app)
    server.mount("ws", raw_websocket)
    server.async_address = socket_path
    server.run()


if __name__ == "__main__":
    main()
