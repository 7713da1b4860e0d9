"""``gnrasgiserve``: the drop-in for ``gnrwsgiserve``, serving on uvicorn.

Same arguments, same resolution (GenroPy's own code, see ``site.SiteLaunch``);
then, before anything slow: the listening socket is bound (a busy port is a clear
error, not a traceback), the gnrdaemon is pinged, a loud warning is printed when
werkzeug's debugger would be reachable from other hosts. Step 7 is uvicorn:
one process, or uvicorn's reloader with ``--reload`` (the site's project folder
is watched; the site is built in the reloaded child, as gnrwsgiserve does).

Exit status: 0 after a clean stop (SIGTERM/SIGINT drain in-flight requests),
1 with one ``gnrasgiserve: error: ...`` line for any launch problem.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import sys
import threading
import time
import webbrowser
from typing import Any

from genropy_asgi.asgi.http_protocol import UVICORN_OPTIONS, configure
from genropy_asgi.asgi.observe import uvicorn_logging
from genropy_asgi.asgi.server import GenropyAsgiServer, exit_zero_after_graceful_stop
from genropy_asgi.launch import LaunchError
from genropy_asgi.launch.app_factory import check_settings, needs_daemon, request_limits, setting
from genropy_asgi.launch.site import SiteLaunch

logger = logging.getLogger("genropy_asgi")


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound now; ``LaunchError`` if the address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only
    # when the listening socket says TCP; without it every keep-alive response waits
    # ~40 ms for a delayed ACK (Nagle), measured: /_server/health 44 ms instead of 3 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (98, 48):  # EADDRINUSE (Linux, macOS)
            raise LaunchError(f"port {port} on {host} is already in use "
                              f"(find the process: lsof -i :{port})") from exc
        raise LaunchError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


def open_browser_when_started(server: GenropyAsgiServer, url: str) -> None:
    def wait_and_open() -> None:
        for _ in range(600):
            uv = server.uvicorn_server
            if uv is not None and uv.started:
                logger.info("Opening browser to application on %s", url)
                webbrowser.open(url)
                return
            time.sleep(0.1)

    threading.Thread(target=wait_and_open, name="open-browser", daemon=True).start()


def ssl_options(launch: SiteLaunch) -> dict[str, Any]:
    files = launch.ssl_files
    return {"ssl_certfile": files[0], "ssl_keyfile": files[1]} if files else {}


def serve_with_reload(launch: SiteLaunch) -> None:
    """uvicorn's reloader (what ``uvicorn.run(reload=True)`` does), on our own socket.

    The socket is ``bind_socket``'s (declared TCP, so keep-alive responses are not held
    back by Nagle; uvicorn's own reload socket is not), and the site is built in the
    reloaded child by ``create_app``, never in this supervising process.
    """
    import uvicorn
    from uvicorn.supervisors import ChangeReload

    from genropy_asgi.launch.app_factory import ARGV_VARIABLE

    sock = bind_socket(launch.host, launch.port)
    launch.start_async_server()  # here, not in the reloaded children
    os.environ[ARGV_VARIABLE] = json.dumps(launch.argv)
    logger.info("Reload on: watching %s", ", ".join(launch.watch_dirs()))
    config = configure(uvicorn.Config("genropy_asgi.launch.app_factory:create_app", factory=True, host=launch.host,
                                      port=launch.port, reload=True, reload_dirs=launch.watch_dirs(),
                                      lifespan="on", **ssl_options(launch), **uvicorn_logging(), **UVICORN_OPTIONS),
                       request_limits())
    with exit_zero_after_graceful_stop():
        ChangeReload(config, target=uvicorn.Server(config).run, sockets=[sock]).run()


def serve(launch: SiteLaunch) -> None:
    from genropy_asgi.asgi.metrics import MetricsPortTaken, metrics_port, serve_in_process
    from genropy_asgi.launch.app_factory import build_server

    sock = bind_socket(launch.host, launch.port)
    launch.start_async_server()
    server = build_server(launch)
    try:
        metrics_host = serve_in_process(launch.host, metrics_port()) if server.metrics is not None else None
        if metrics_host:
            logger.info("Metrics on %s:%s/metrics", metrics_host, metrics_port())
    except MetricsPortTaken as exc:
        raise LaunchError(str(exc)) from None
    logger.info("Started server on %s:%s (uvicorn)\tDebug mode: %s", launch.host, launch.port,
                "On" if launch.debug else "Off")
    logger.info("Connect at %s", launch.app_url)
    if launch.options.open_browser:
        open_browser_when_started(server, launch.app_url)
    server.run(sockets=[sock], **ssl_options(launch))


def configure_logging() -> None:
    """Our own logger only: GenroPy's loggers have their handlers (no duplicate lines)."""
    from genropy_asgi.logs import configure_own_logger

    configure_own_logger()


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    started = time.monotonic()
    try:
        launch = SiteLaunch(sys.argv[1:] if argv is None else argv)
        if launch.options.timeit:  # as GenroPy's `gnr` command does it
            atexit.register(lambda: print(f"Total execution time: {time.monotonic() - started:.3f}s", file=sys.stderr))
        check_settings()  # a malformed variable fails here, in one line, before anything starts
        for warning in launch.warnings():
            logger.warning(warning)
        for flag in launch.compat_flags:
            logger.info("%s: accepted for compatibility (GenroPy 26.10 has no clean-restart step)", flag)
        if needs_daemon(launch):  # also decides GENROPY_REGISTER for the programs started below
            launch.wait_for_daemon(setting("GENROPY_DAEMON_WAIT") or 0)
        launch.start_debugpy()
        if launch.reload:
            serve_with_reload(launch)
        else:
            serve(launch)
    except LaunchError as exc:
        print(f"gnrasgiserve: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
