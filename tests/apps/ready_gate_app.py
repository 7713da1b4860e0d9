"""A GenropyAsgiServer whose readiness check passes once a file exists:
``python ready_gate_app.py PORT FLAG_FILE`` (for the gateway's not-ready gate test)."""

from __future__ import annotations

import os
import sys

from genropy_asgi import GenropyAsgiServer


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"site answered"]


def build(flag: str) -> GenropyAsgiServer:
    server = GenropyAsgiServer(wsgi_app=wsgi_app)

    def flag_exists() -> None:
        if not os.path.exists(flag):
            raise RuntimeError("not yet")

    server.add_ready_check("flag file", flag_exists)
    return server


if __name__ == "__main__":
    build(sys.argv[2]).run(host="127.0.0.1", port=int(sys.argv[1]))
