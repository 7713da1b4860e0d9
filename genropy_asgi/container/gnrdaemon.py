"""``python -m genropy_asgi.container.gnrdaemon``: GenroPy's gnrdaemon, stopped without losing sessions.

GenroPy's own ``GnrDaemon`` runs in this process, configured as ``gnr web daemon``
configures it (the config folder's ``<gnrdaemon host port hmac_key>``), with:
- its site registers kept in ``GENROPY_REGISTER_STORE`` (``compat.register_store``:
  saved every ``GENROPY_REGISTER_SNAPSHOT`` seconds and at SIGTERM, restored when the
  site reconnects), so a restart or an upgrade keeps users logged in;
- SIGTERM passed on to the processes it forked (each register saves, then exits) before
  this one exits 0: under tini (the image's ``daemon`` mode) only this process gets it;
- a wildcard bind (``0.0.0.0``, ``::``) advertised as this container's own address (Pyro's
  NAT host), so the register addresses it hands out reach it from other pods.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys

WILDCARDS = ("0.0.0.0", "::", "[::]", "")
STOP_SECONDS = 10.0  # the registers' own save is a pickle of memory: well under this


def own_address() -> str:
    """This container's address as its peers see it (a pod's or container's hostname resolves to it)."""
    return socket.gethostbyname(socket.gethostname())


def stop_children(signum: int, frame: object) -> None:
    """SIGTERM: every forked child (registers save first), then exit 0."""
    children = multiprocessing.active_children()
    for child in children:
        try:
            os.kill(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for child in children:
        child.join(STOP_SECONDS)
    os._exit(0)  # GenroPy's atexit stop would ask the (gone) registers again


def main() -> int:
    import Pyro4
    from gnr.web.daemon.handler import GnrDaemon, getFullOptions

    options = getFullOptions(options={})
    if str(options.get("host") or "").strip() in WILDCARDS:
        Pyro4.config.NATHOST, Pyro4.config.NATPORT = own_address(), 0  # 0: each daemon's own port
    signal.signal(signal.SIGTERM, stop_children)
    GnrDaemon().start(use_environment=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
