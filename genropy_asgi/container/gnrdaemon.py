"""``python -m genropy_asgi.container.gnrdaemon``: GenroPy's gnrdaemon, stopped without losing sessions.

GenroPy's own ``GnrDaemon`` runs in this process, configured as ``gnr web daemon``
configures it (the config folder's ``<gnrdaemon host port hmac_key>``), with:
- its site registers kept in ``GENROPY_REGISTER_STORE`` (``compat.register_store``:
  saved every ``GENROPY_REGISTER_SNAPSHOT`` seconds and at SIGTERM, restored when the
  site reconnects), so a restart or an upgrade keeps users logged in;
- at SIGTERM, each register asked to save (a Pyro call, whatever signals reach the
  children), then SIGTERM passed on to the processes it forked before this one exits 0:
  under tini (the image's ``daemon`` mode) only this process gets the signal;
- a wildcard bind (``0.0.0.0``, ``::``) advertised as this container's own address (Pyro's
  NAT host), so the register addresses it hands out reach it from other pods.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
from typing import Any

WILDCARDS = ("0.0.0.0", "::", "[::]", "")
STOP_SECONDS = 10.0  # the registers' own save is a pickle of memory: well under this
RUNNING: dict[str, object] = {}  # "daemon": this process's GnrDaemon


def own_address() -> str:
    """This container's address as its peers see it (a pod's or container's hostname resolves to it)."""
    return socket.gethostbyname(socket.gethostname())


def save_registers() -> None:
    """Each site register saves its state now (``compat.register_store``'s dump), through Pyro."""
    daemon: Any = RUNNING.get("daemon")
    for sitename in list(getattr(daemon, "siteregisters", {})):
        try:
            daemon.siteregister_dump(sitename=sitename)
            print(f"genropy-asgi: gnrdaemon: registers of {sitename} saved at stop", file=sys.stderr, flush=True)
        except Exception as exc:
            if type(exc).__name__ == "ConnectionClosedError":
                continue  # the register got SIGTERM too (a process-group stop): it saved and exited
            print(f"genropy-asgi: gnrdaemon: saving the registers of {sitename} at stop failed: "
                  f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def stop_children(signum: int, frame: object) -> None:
    """SIGTERM: the registers saved, every forked child stopped, then exit 0."""
    if os.getpid() == RUNNING.get("pid"):
        saving = threading.Thread(target=save_registers, daemon=True)
        saving.start()
        saving.join(STOP_SECONDS)
    children = multiprocessing.active_children()
    for child in children:
        if child.pid is None:  # never started
            continue
        try:
            os.kill(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for child in children:
        child.join(STOP_SECONDS)
    os._exit(0)  # GenroPy's atexit stop would ask the (gone) registers again


class DemotedRelationErrors:
    """``logging`` filter: GenroPy's "The relation X - Y cannot be added" ERRORs, as WARNINGs.

    gnrdaemon runs GenroPy's older task scheduler, which builds the site's application in
    the daemon; there five relations of ``sys`` to ``adm`` tables fail to resolve
    (``'NoneType' object has no attribute 'pkey'``) at every start, while the same model
    loads whole in the site's own processes (the server logs none). Nothing in the daemon
    uses those relations: a warning, not an error of a healthy start.
    """

    MESSAGE = "The relation %s - %s cannot be added"

    def filter(self, record: Any) -> bool:
        import logging

        if record.levelno == logging.ERROR and str(record.msg).startswith(self.MESSAGE):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_known_noise() -> None:
    """What a healthy gnrdaemon start printed as warnings or errors, demoted, each with its reason."""
    import logging
    import warnings

    # Pyro4 4.82 (GenroPy's) calls threading.Event.isSet(), deprecated since Python 3.10: Pyro's code
    warnings.filterwarnings("ignore", message=r"isSet\(\) is deprecated", category=DeprecationWarning)
    # gnrdaemon forks its site registers (multiprocessing 'fork', GenroPy's design) from a process
    # with threads; Python 3.12+ warns at every fork. The children use none of the parent's threads.
    warnings.filterwarnings("ignore", message=r"This process .* is multi-threaded, use of fork\(\)",
                            category=DeprecationWarning)
    logging.getLogger("gnr.sql").addFilter(DemotedRelationErrors())


def main() -> int:
    quiet_known_noise()
    import Pyro4
    from gnr.web.daemon.handler import GnrDaemon, getFullOptions

    options = getFullOptions(options={})
    if str(options.get("host") or "").strip() in WILDCARDS:
        Pyro4.config.NATHOST, Pyro4.config.NATPORT = own_address(), 0  # 0: each daemon's own port
    daemon = GnrDaemon()
    RUNNING.update(daemon=daemon, pid=os.getpid())
    signal.signal(signal.SIGTERM, stop_children)
    daemon.start(use_environment=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
