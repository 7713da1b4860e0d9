"""The site's gnrdaemon: its address (siteconfig ``<gnrdaemon>``), a real Pyro ping, and
the wait for a daemon started alongside us."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from genropy_asgi.compat import upstream
from genropy_asgi.launch import LaunchError


@dataclass(frozen=True)
class DaemonAddress:
    """Where the site will look for its gnrdaemon (siteconfig ``<gnrdaemon>``)."""

    host: str
    port: int
    hmac_key: str | None

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def check_daemon(address: DaemonAddress, timeout: float = 3.0) -> None:
    """Raise ``LaunchError`` unless the gnrdaemon at ``address`` answers a Pyro ping."""
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout):
            pass
    except OSError as exc:
        raise LaunchError(
            f"gnrdaemon not reachable at {address} ({exc.strerror or exc}): "
            "start it with 'gnr web daemon'"
        ) from exc
    daemon_ping(address)


def wait_for_daemon(address: DaemonAddress, seconds: float) -> None:
    """``check_daemon``, retried for up to ``seconds``."""
    from genropy_asgi.polling import retry

    retry(lambda: check_daemon(address), seconds, 0.5, LaunchError)


def daemon_ping(address: DaemonAddress) -> None:
    """A real Pyro round trip to the gnrdaemon; ``LaunchError`` if it does not answer."""
    from gnr.web.daemon.handler import GnrDaemonProxy

    try:
        proxy = GnrDaemonProxy(host=address.host, port=address.port,
                               hmac_key=address.hmac_key).proxy()
        with proxy:
            upstream.set_pyro_timeout(proxy, 5)
            answer = proxy.ping()
    except Exception as exc:  # Pyro raises many kinds; all mean "not usable"
        raise LaunchError(f"gnrdaemon at {address} did not answer ({type(exc).__name__}: {exc}); "
                          "check that its hmac_key matches the siteconfig") from exc
    if answer != "ping":
        raise LaunchError(f"gnrdaemon at {address} answered {answer!r} to a ping")
