"""GenroPy's own steps 1-6 of ``gnrwsgiserve``, reused; plus the checks around them.

``SiteLaunch`` IS GenroPy's ``gnr.web.serverwsgi.Server`` (subclassed, not copied):
its ``__init__`` parses the same options, reads the config folder, resolves the
site name (``-s``, positional, ``GNR_CURRENT_SITE``, ``--remotedb [NAME]``), finds
the site path, loads the siteconfig and merges the options in GenroPy's order
(CLI > ``GNR_WSGI_OPT_*`` > siteconfig ``wsgi`` > defaults). What differs is only
step 7: ``build_site()`` returns the ``GnrWsgiSite`` (step 6, the same constructor
call ``Server.serve`` makes) instead of handing it to werkzeug.

GenroPy's ``Server`` reads ``sys.argv`` itself, so ``SiteLaunch(argv)`` swaps it
in for the duration of the parse. Failures of steps 1-5 become ``LaunchError``
with the one-line messages of the design document's troubleshooting table.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

from gnr.web.serverwsgi import GnrDebuggedApplication, Server, ServerException

from genropy_asgi import settings  # importing genropy_asgi installed GenroPy's fixes
from genropy_asgi.compat import upstream
from genropy_asgi.launch import LaunchError
from genropy_asgi.launch.daemon import DaemonAddress, check_daemon, wait_for_daemon

logger = logging.getLogger("genropy_asgi")

PROG = "gnr asgiserve"
"""What the usage line says. GenroPy's parser prints a deprecation banner for any
program whose name does not start with ``gnr ``; this one is not deprecated."""

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
ASYNC_SERVER_VARIABLE = "GENROPY_ASYNC_SERVER"
"""Who runs ``gnr web async``: ``spawn`` (or ``on``, the default) -- gnrasgiserve starts it
as a child when the siteconfig declares ``wsgi websockets`` (or ``-a PORT``), as
gnrwsgiserve does; ``external`` -- somebody else does (the image's supervisord):
websockets on, never spawned; ``off`` -- websockets off whatever the siteconfig says."""
FALSE_WORDS = {"", "false", "0", "no", "off", "none"}

_ARGV_LOCK = threading.Lock()

COMPAT_ONLY_FLAGS = ("-n", "--noclean")
"""The design document's ``-n/--noclean`` ("skip clean restart"): GenroPy 26.10 has no
clean-restart step (its ``Server`` has no such option), so it is accepted and changes
nothing, for command lines written for older GenroPy releases."""


def is_true(value: Any) -> bool:
    """GenroPy's option values come as bools, ``None`` or strings like ``'False'``."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return str(value).strip().lower() not in FALSE_WORDS


@contextlib.contextmanager
def _argv(argv: list[str]) -> Iterator[None]:
    with _ARGV_LOCK:
        saved = sys.argv
        sys.argv = [PROG, *argv]
        try:
            yield
        finally:
            sys.argv = saved


class SiteLaunch(Server):  # type: ignore[misc]  # GenroPy's Server: untyped
    """GenroPy's ``Server`` with step 7 removed: options, paths, config, site."""

    description = "Serve a GenroPy site on uvicorn (ASGI): drop-in for gnrwsgiserve."

    def __init__(self, argv: list[str]) -> None:
        self.argv = [arg for arg in argv if arg not in COMPAT_ONLY_FLAGS]
        self.compat_flags = [arg for arg in argv if arg in COMPAT_ONLY_FLAGS]
        export_config_folder(self.argv)
        with _argv(self.argv):
            try:
                super().__init__()
            except ServerException as exc:
                raise LaunchError(_troubleshooting_line(str(exc))) from exc
            except SystemExit as exc:
                if exc.code not in (0, None) and not self._parsed():
                    raise  # argparse already printed its usage error
                if exc.code not in (0, None):
                    raise LaunchError("site name is required: gnrasgiserve SITE_NAME "
                                      "(or -s SITE_NAME, or GNR_CURRENT_SITE)") from exc
                raise
            except LaunchError:
                raise
            except Exception as exc:  # GenroPy raises bare Exception for a missing config
                raise LaunchError(_troubleshooting_line(str(exc), exc)) from exc
        self.async_server_mode  # noqa: B018 -- a bad GENROPY_ASYNC_SERVER fails here, first

    def _parsed(self) -> bool:
        return hasattr(self, "options")

    def site_name_to_path(self, site_name: str) -> str:
        try:
            path = super().site_name_to_path(site_name)
        except Exception:  # GenroPy: EntityNotFoundException "site X not found"
            path = None
        if not path:
            instance = self._instance_folder(site_name)
            if instance:
                raise LaunchError(f"site {site_name!r}: the instance {instance} has no root.py, which GenroPy needs "
                                  "to serve it as a site: `gnr app mkinstance` writes GenroPy's standard one; or put "
                                  f"it in {instance}/site/root.py (a runtime folder) to leave the project unchanged")
            raise LaunchError(f"site {site_name!r} not found: no instance or site of that name "
                              f"in the projects of {self.config_path}/environment.xml")
        return str(path)

    def _instance_folder(self, name: str) -> str | None:
        from gnr.app.pathresolver import PathResolver

        try:
            found = PathResolver(self.gnr_config).instance_name_to_path(name)
        except Exception:  # GenroPy: EntityNotFoundException
            return None
        return str(found) if found else None

    # -- resolved options (GenroPy's own meaning) -------------------------------
    @property
    def host(self) -> str:
        return str(self.options.host)

    @property
    def port(self) -> int:
        try:
            return int(self.options.port)
        except (TypeError, ValueError) as exc:
            raise LaunchError(f"port must be a number, got {self.options.port!r}") from exc

    @property
    def debugpy_port(self) -> int | None:
        """``--debugpy`` / ``--debugpy-port N``: GenroPy's remote debugger on localhost (5678)."""
        port = getattr(self.options, "debugpy_port", None)
        if not getattr(self.options, "debugpy", False) and port is None:
            return None
        return int(port or 5678)

    def start_debugpy(self) -> None:
        """As gnrwsgiserve does: debugpy listens on localhost before the site is served."""
        port = self.debugpy_port
        if port is None:
            return
        try:
            import debugpy
        except ImportError as exc:
            raise LaunchError("--debugpy: the debugpy package is not installed (pip install debugpy, or "
                              "GenroPy's developer profile)") from exc
        debugpy.listen(("localhost", port))
        logger.info("debugpy listening on localhost:%s", port)

    @property
    def debug(self) -> bool:
        return is_true(self.options.debug) and not self.options.nodebug

    @property
    def reload(self) -> bool:
        return is_true(self.options.reload) and self.debugpy_port is None  # GenroPy: no reloader under debugpy

    @property
    def full_site_name(self) -> str:
        """``site`` or ``site:remotedb``, what ``GnrWsgiSite`` is given."""
        return f"{self.site_name}:{self.remote_db}" if self.remote_db else self.site_name

    @property
    def ssl_files(self) -> tuple[str, str] | None:
        """(certfile, keyfile) as ``gnrwsgiserve`` picks them, else ``None``."""
        if self.options.ssl_cert and self.options.ssl_key:
            return str(self.options.ssl_cert), str(self.options.ssl_key)
        if is_true(self.options.ssl):
            cert = os.path.join(self.config_path, "localhost.pem")
            key = os.path.join(self.config_path, "localhost-key.pem")
            if not (os.path.exists(cert) and os.path.exists(key)):
                raise LaunchError(f"--ssl needs {cert} and {key} (or pass --ssl_cert and --ssl_key)")
            return cert, key
        return None

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_files else "http"

    @property
    def app_url(self) -> str:
        connect_host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"{self.scheme}://{connect_host}:{self.port}"

    @property
    def daemon_address(self) -> DaemonAddress:
        attrs = self.siteconfig.getAttr("gnrdaemon") or {}
        env = self.gnr_config["gnr.environment_xml"]
        env_attrs = (env.getAttr("gnrdaemon") if env else None) or {}
        host = attrs.get("host") or env_attrs.get("host") or "localhost"
        port = attrs.get("port") or env_attrs.get("port") or settings.DAEMON_PORT
        hmac_key = attrs.get("hmac_key") or env_attrs.get("hmac_key")
        return DaemonAddress(str(host), int(port), hmac_key)

    @property
    def async_server_mode(self) -> str:
        try:
            mode = settings.read(os.environ, ASYNC_SERVER_VARIABLE) or "spawn"
        except settings.SettingError as exc:
            raise LaunchError(str(exc)) from None
        return "spawn" if mode == "on" else mode

    @property
    def websockets(self) -> bool:
        """Whether the site's pages use GenroPy's real-time channel (``/websocket``)."""
        mode = self.async_server_mode
        if mode != "spawn":
            return mode == "external"
        return bool(self.options.async_port) or is_true(self.siteconfig["wsgi?websockets"])

    def watch_dirs(self) -> list[str]:
        """The folders ``--reload`` watches: the site's project (its ``packages`` and instances).

        The site folder is ``<project>/instances/<name>/site`` or ``<project>/sites/<name>``:
        the project is the nearest parent holding a ``packages`` folder.
        """
        folder = os.path.abspath(self.site_path)
        for _ in range(4):
            if os.path.isdir(os.path.join(folder, "packages")):
                return [folder]
            folder = os.path.dirname(folder)
        return [os.path.abspath(self.site_path)]

    # -- checks ---------------------------------------------------------------
    def warnings(self) -> list[str]:
        found = []
        if self.debug and self.host not in LOOPBACK_HOSTS:
            found.append(
                f"DEBUG MODE ON {self.host}: werkzeug's console executes Python code sent by "
                "anyone who can reach this port. Use --nodebug, or bind to 127.0.0.1."
            )
        return found

    def wait_for_daemon(self, seconds: float) -> None:
        """``check_daemon``, retried for up to ``seconds`` (a daemon started alongside us)."""
        wait_for_daemon(self.daemon_address, seconds)

    def check_daemon(self, timeout: float = 3.0) -> None:
        """Raise ``LaunchError`` unless the gnrdaemon answers a Pyro ping."""
        check_daemon(self.daemon_address, timeout)

    # -- step 6 ---------------------------------------------------------------
    def build_site(self) -> Any:
        """Step 6, as ``gnrwsgiserve`` does it: the ``GnrWsgiSite`` (debugger-wrapped if debug)."""
        import atexit

        from gnr.web.gnrwsgisite import GnrWsgiSite

        # GnrWsgiSite names the site after its script's folder: right for <instance>/root.py and
        # sites/<name>/root.py, wrong for a root.py supplied in <instance>/site (compat.instance_site)
        script_folder = os.path.basename(os.path.dirname(os.path.abspath(self.site_script)))
        site = GnrWsgiSite(
            self.site_script if script_folder == self.site_name else self.full_site_name,
            site_name=self.full_site_name,
            _config=self.siteconfig,
            _gnrconfig=self.gnr_config,
            options=self.options,
            debugpy=False,
        )
        upstream.mark_served_site(site)
        # "required": GenroPy otherwise probes the socket once, on the first page, and a
        # probe that loses the race with the async server's start (or meets Linux's
        # ECONNREFUSED, which GenroPy does not recognise) turns websockets off for good
        site.websockets = "required" if self.websockets else False
        atexit.register(site.on_site_stop)
        return site

    def wsgi_app(self, site: Any) -> Any:
        """The callable served: the site, inside werkzeug's debugger when debug is on."""
        if self.debug:
            return GnrDebuggedApplication(site, evalex=True, pin_security=False)
        return site

    def start_async_server(self) -> None:
        """``gnr web async`` as a child, in ``spawn`` mode when websockets are on.

        It listens on the site's Unix socket only: pages reach it on this server's own
        port (the gateway relays ``/websocket``). ``-a PORT`` also opens that TCP port
        and tells the pages to use it, as with gnrwsgiserve.
        """
        if self.async_server_mode != "spawn" or not self.websockets or self._async_server_already_running():
            return
        import atexit
        import shutil
        import subprocess

        gnr = shutil.which("gnr") or os.path.join(os.path.dirname(sys.executable), "gnr")
        port = self.options.async_port
        argv = [gnr, "web", "async", self.full_site_name, *(["-p", str(port)] if port else [])]
        env = {**os.environ, "GENROPY_ASYNC_BIND": self.host}  # its TCP port where ours listens (compat.async_server)
        child = subprocess.Popen(argv, env=env)
        logger.info("gnr web async started (pid %s) for %s, %s", child.pid, self.full_site_name,
                    f"TCP port {port}" if port else "Unix socket, relayed on /websocket")

        def stop_child() -> None:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(5)
                except subprocess.TimeoutExpired:
                    child.kill()

        atexit.register(stop_child)


def export_config_folder(argv: list[str]) -> None:
    """Make ``-c/--config PATH`` mean the config folder for the whole process.

    GenroPy's ``Server`` reads ``-c`` for its own first read only; ``GnrApp``, the site
    and the children they start look at ``GENRO_GNRFOLDER``. Exporting it makes ``-c``
    work everywhere (with gnrwsgiserve, ``-c`` alone does not).
    """
    import argparse

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-c", "--config", dest="config_path")
    known, _ = parser.parse_known_args(argv)
    if known.config_path:
        folder = os.path.abspath(os.path.expanduser(known.config_path))
        if not os.path.isfile(os.path.join(folder, "environment.xml")):
            raise LaunchError(f"-c {known.config_path}: no environment.xml in {folder}")
        os.environ["GENRO_GNRFOLDER"] = folder


def _troubleshooting_line(message: str, exc: BaseException | None = None) -> str:
    lowered = message.lower()
    if "no ~/.gnr/" in lowered or "missing genro configuration" in lowered:
        return "no ~/.gnr/ found: create environment.xml in the GenroPy config folder " \
               "(GENRO_GNRFOLDER, ~/.gnr or /etc/gnr)"
    if "no root.py" in lowered:
        return message.replace("Error: ", "").replace("no root.py in the site provided",
                                                      "no root.py in site")
    kind = f"{type(exc).__name__}: " if exc is not None else ""
    return f"cannot load the GenroPy configuration ({kind}{message})"
