"""Run a real GenroPy site with local processes: config folder, gnrdaemon, server.

For tests and benchmarks on the host (no Docker): ``GnrWorkspace`` copies a
GenroPy project into a scratch folder, writes its config folder
(``gnrconfig.render_config_folder``) with a random daemon port and HMAC key, and
runs ``gnr db setup``; ``GnrDaemonProcess`` and ``ServerProcess`` start and stop
the real programs (``gnr web daemon``, ``gnrasgiserve``, ``gnrwsgiserve``, ...)
and stop ONLY the processes they started, by PID.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from genropy_asgi.launch.gnrconfig import GnrSetup, render_config_folder, write_config_folder
from genropy_asgi.polling import NotYet, retry

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen | None = None) -> None:
    def attempt() -> None:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        socket.create_connection((host, port), timeout=0.5).close()

    try:
        retry(attempt, timeout, 0.1, OSError)
    except OSError:
        raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s") from None


def http_status(url: str, timeout: float = 5.0) -> int:
    """Status of a GET (an https URL is not verified: test servers use self-signed certs)."""
    context = None
    if url.startswith("https:"):
        import ssl

        context = ssl._create_unverified_context()
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@dataclass
class GnrWorkspace:
    """A scratch GenroPy installation: projects copy + config folder + database."""

    root: Path
    project_source: Path
    site_name: str = "demo"
    db: Mapping[str, str] = field(default_factory=dict)
    db_override: Mapping[str, str] = field(default_factory=dict)
    remote_dbs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    xml_users: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    wsgi: Mapping[str, str] = field(default_factory=lambda: {"debug": "False::B", "reload": "False::B"})
    daemon_port: int = field(default_factory=free_port)
    hmac_key: str = field(default_factory=lambda: secrets.token_hex(16))
    tasks_async: bool = False

    @classmethod
    def create(cls, project_source: str | Path, root: str | Path | None = None, **kwargs) -> GnrWorkspace:
        root = Path(root or tempfile.mkdtemp(prefix="gnrws-"))
        workspace = cls(root=root, project_source=Path(project_source), **kwargs)
        workspace.write()
        return workspace

    @property
    def projects_dir(self) -> Path:
        return self.root / "projects"

    @property
    def project_dir(self) -> Path:
        return self.projects_dir / self.project_source.name

    @property
    def config_dir(self) -> Path:
        return self.root / "gnr"

    @property
    def instance_dir(self) -> Path:
        return self.project_dir / "instances" / self.site_name

    def setup(self) -> GnrSetup:
        return GnrSetup(projects={"workspace": str(self.projects_dir)}, daemon_hmac_key=self.hmac_key,
                        daemon_port=self.daemon_port, wsgi=self.wsgi, db=self.db, db_override=self.db_override,
                        remote_dbs=self.remote_dbs, xml_users=self.xml_users, tasks_async=self.tasks_async)

    def write(self) -> None:
        if not self.project_dir.exists():
            shutil.copytree(self.project_source, self.project_dir,
                            ignore=shutil.ignore_patterns("data", "site", "__pycache__"))
        write_config_folder(str(self.config_dir), render_config_folder(self.setup()))

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("GNR_WSGI_OPT_", "GNR_CURRENT_SITE", "GNR_DB_DSN"))}
        env["GENRO_GNRFOLDER"] = str(self.config_dir)
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra or {})
        return env

    def gnr(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run a ``gnr`` command in this workspace; raise with its output if it fails."""
        result = subprocess.run([str(BIN / "gnr"), *args], env=self.env(), capture_output=True,
                                text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"gnr {' '.join(args)} exited {result.returncode}:\n"
                               f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def db_setup(self) -> None:
        self.gnr("db", "setup", self.site_name)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class ManagedProcess:
    """A child process with its output in a file; stopped by PID only."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], log_path: Path,
                 cwd: str | None = None) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(self.argv, env=dict(env), cwd=cwd, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, wait, then SIGKILL the process group (children we forked included)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._kill_leftover_group()
        self._log.close()
        return self.process.returncode

    def _kill_leftover_group(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class GnrDaemonProcess(ManagedProcess):
    """``gnr web daemon`` for a workspace; waits until it listens."""

    def __init__(self, workspace: GnrWorkspace, timeout: float = 60) -> None:
        self.workspace = workspace
        super().__init__([str(BIN / "gnr"), "web", "daemon"], workspace.env(),
                         workspace.root / "gnrdaemon.log")
        wait_for_port("127.0.0.1", workspace.daemon_port, timeout, self.process)

    def stop(self, timeout: float = 30) -> int:
        """GenroPy's own stop first (a plain kill leaves forked children on the port)."""
        if self.process.poll() is None:
            subprocess.run([str(BIN / "gnr"), "web", "daemon", "-C", "stop"], env=self.workspace.env(),
                           capture_output=True, timeout=60)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        return super().stop(timeout)


class ServerProcess(ManagedProcess):
    """A web server process (gnrasgiserve, gnrwsgiserve, gunicorn...) on 127.0.0.1:port."""

    def __init__(self, argv: Sequence[str], workspace: GnrWorkspace, port: int, name: str,
                 env: Mapping[str, str] | None = None, ready_path: str = "/index",
                 timeout: float = 120, scheme: str = "http") -> None:
        self.port = port
        self.base_url = f"{scheme}://127.0.0.1:{port}"
        super().__init__(argv, workspace.env(env), workspace.root / f"{name}-{port}.log")
        self.wait_ready(ready_path, timeout)

    def wait_ready(self, path: str, timeout: float) -> None:
        last = None

        def attempt() -> None:
            nonlocal last
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited {self.process.returncode}:\n{self.output()[-4000:]}")
            last = http_status(self.base_url + path, timeout=10)
            if last != 200:
                raise NotYet(last)

        try:
            retry(attempt, timeout, 0.2)
        except (NotYet, OSError):
            raise TimeoutError(f"{self.base_url}{path} not 200 after {timeout}s (last {last}):\n"
                               f"{self.output()[-4000:]}") from None


class RedisServerProcess(ManagedProcess):
    """A local ``redis-server`` (or ``valkey-server``) for ``GENROPY_REGISTER=redis``: loopback,
    a free port, a random password (in its configuration file, never an argument) and an
    append-only file in ``folder``; ``env()`` is what a site's processes are given. ``restart()``
    stops and starts it on the same port and data (what a Redis restart does to a site)."""

    def __init__(self, folder: Path, timeout: float = 20) -> None:
        binary = shutil.which("redis-server") or shutil.which("valkey-server")
        if binary is None:
            raise FileNotFoundError("neither redis-server nor valkey-server is on PATH "
                                    "(Debian: apt-get install redis-server)")
        self.folder, self.binary, self.timeout = Path(folder), binary, timeout
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.password = secrets.token_hex(12)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        config = self.folder / "redis.conf"
        config.write_text(f"port {self.port}\nbind 127.0.0.1\nrequirepass {self.password}\ndir {self.folder}\n"
                          "appendonly yes\nsave \"\"\n")
        config.chmod(0o600)
        self.start()

    def start(self) -> None:
        super().__init__([self.binary, str(self.folder / "redis.conf")], os.environ, self.folder / "server.log")
        wait_for_port("127.0.0.1", self.port, self.timeout, self.process)

    def restart(self, signum: int = signal.SIGTERM) -> None:
        self.signal(signum)
        self.process.wait(30)
        self._log.close()
        self.start()

    def client(self):
        import redis

        return redis.Redis(port=self.port, password=self.password)

    def env(self) -> dict[str, str]:
        return {"GENROPY_REGISTER": "redis", "GENROPY_REDIS_URL": self.url, "GENROPY_REDIS_PASSWORD": self.password}
