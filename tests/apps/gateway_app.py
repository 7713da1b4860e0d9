"""A GenropyAsgiServer around a plain WSGI app, for the gateway tests: ``python gateway_app.py PORT``.

The WSGI side (anything not under a mounted prefix) exposes what the tests need to
see: repeated headers, environ paths, streaming downloads, hashed uploads,
exceptions. Mounted next to it: a REST API (``/api``), a raw WebSocket (``/ws``), a raw
ASGI app answering the size of the body it read (``/raw``) and
the same WSGI app through ``GenropyProxy`` on ``/legacy``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from urllib.parse import parse_qs

from genro_routes import RoutingClass, route

from genropy_asgi import GenropyAsgiServer, GenropyProxy

CHUNK = b"x" * (1024 * 1024)


def wsgi_app(environ, start_response):
    path = environ["PATH_INFO"]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/cookies":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", "a=1; Path=/"),
                                  ("Set-Cookie", "b=2; Path=/")])
        return [b"two cookies"]
    if path.endswith("/environ") or path == "/environ":
        body = json.dumps({k: environ[k] for k in ("SCRIPT_NAME", "PATH_INFO", "QUERY_STRING",
                                                  "REQUEST_METHOD")}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if path == "/big":
        megabytes = int(query.get("mb", ["1"])[0])
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(megabytes * len(CHUNK)))])
        return (CHUNK for _ in range(megabytes))
    if path == "/upload":
        digest, size = hashlib.sha256(), 0
        stream = environ["wsgi.input"]
        while True:
            block = stream.read(256 * 1024)
            if not block:
                break
            digest.update(block)
            size += len(block)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"sha256": digest.hexdigest(), "size": size}).encode()]
    if path == "/slow":
        time.sleep(float(query.get("s", ["2"])[0]))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"slow done"]
    if path == "/boom":
        raise RuntimeError("boom from the WSGI side")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"wsgi:{path}".encode()]


class Notes(RoutingClass):
    openapi_info = {"title": "Notes API", "version": "1.0"}

    @route()
    def hello(self, name: str = "world") -> dict:
        return {"hello": name}


async def echo_socket(scope, receive, send):
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": "echo:" + (message.get("text") or "")})


async def body_size(scope, receive, send):
    """A plain ASGI app that reads the whole request body and answers its size."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": str(size).encode()})


def build() -> GenropyAsgiServer:
    server = GenropyAsgiServer(wsgi_app=wsgi_app, wsgi_threads=4)
    server.mount("api", Notes())
    server.mount("ws", echo_socket)
    server.mount("raw", body_size)
    server.mount("legacy", GenropyProxy(wsgi_app=wsgi_app))
    return server


if __name__ == "__main__":
    build().run(host="127.0.0.1", port=int(sys.argv[1]))
