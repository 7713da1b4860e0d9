"""GenroPy mounted on /legacy with GenropyProxy, a REST API on /api and a WebSocket on
/ws, one port: ``python proxy_app.py PORT``."""

from __future__ import annotations

import sys

from gateway_app import echo_socket
from genro_routes import RoutingClass, route

from genropy_asgi import GenropyAsgiServer, GenropyProxy


class Ping(RoutingClass):
    @route()
    def ping(self) -> dict:
        return {"pong": True}


if __name__ == "__main__":
    server = GenropyAsgiServer(host="127.0.0.1", port=int(sys.argv[1]))
    server.mount("legacy", GenropyProxy(site_name="demo", argv=["--nodebug"]))
    server.mount("api", Ping())
    server.mount("ws", echo_socket)
    server.run()
