"""The container's metrics endpoint: ``GET :GENROPY_METRICS_PORT/metrics`` (supervisord's ``metrics``).

Serves, in Prometheus' text format (``prometheus-client``):

- the request and site metrics every server process of the container writes to
  ``PROMETHEUS_MULTIPROC_DIR`` (one uvicorn process or every gunicorn worker: summed by
  ``MultiProcessCollector``; the files of processes that died are marked dead first, so
  their in-flight gauges stop counting);
- per supervisord program (``gnrdaemon``, ``async``, ``server``, ``taskscheduler``,
  ``taskworker_N``): ``genropy_program_up``, ``genropy_program_cpu_seconds_total`` and
  ``genropy_program_resident_memory_bytes`` of its process tree (psutil), and
  ``genropy_program_restarts_total`` (exits supervisord restarted, counted by
  ``crash_listener`` in ``$GENROPY_RUN/restarts.json``);
- the site's last successful backup: ``genropy_backup_last_success_timestamp_seconds`` and
  ``genropy_backup_last_size_bytes`` (``site_backup``'s status file), once there is one.

Its own port, never the public one; bound where the web port is (``GENROPY_METRICS_BIND``
overrides: Prometheus scrapes the pod's address), with a deadline per connection and a cap on
connections (``genropy_asgi.asgi.metrics_listener``).
"""

from __future__ import annotations

import glob
import json
import os
import re
import signal
import sys
from collections.abc import Iterator
from typing import Any

from genropy_asgi import settings
from genropy_asgi.container.supervisorctl import SOCKET_FILE

RESTARTS_FILE = "restarts.json"
ALIVE_STATES = ("STARTING", "RUNNING")  # STARTING: spawned, not yet past its startsecs (it may already serve)
_PID_IN_NAME = re.compile(r"_(\d+)\.db$")


def restarts_path(run: str) -> str:
    return os.path.join(run, RESTARTS_FILE)


def read_restarts(path: str) -> dict[str, int]:
    try:
        with open(path) as handle:
            found = json.load(handle)
    except (OSError, ValueError):
        return {}
    return {str(k): int(v) for k, v in found.items()} if isinstance(found, dict) else {}


def write_restarts(path: str, counts: dict[str, int]) -> None:
    staging = f"{path}.{os.getpid()}.tmp"
    with open(staging, "w") as handle:
        json.dump(counts, handle)
    os.replace(staging, path)


def supervisor_processes(socket_path: str) -> list[dict[str, Any]]:
    """supervisord's ``getAllProcessInfo`` over its Unix socket (``[]`` when it does not answer), less
    the programs this container does not run (switched off: never started)."""
    from xmlrpc.client import ServerProxy

    from supervisor.xmlrpc import SupervisorTransport

    from genropy_asgi.container.supervisorctl import TOKEN_VARIABLE, USER_VARIABLE

    transport = SupervisorTransport(os.environ.get(USER_VARIABLE), os.environ.get(TOKEN_VARIABLE),
                                    f"unix://{socket_path}")
    try:
        found: list[Any] = list(ServerProxy("http://127.0.0.1", transport=transport).supervisor.getAllProcessInfo())  # type: ignore[arg-type]  # XML-RPC: a list
    except Exception:
        return []
    return [info for info in found if not (info.get("statename") == "STOPPED" and not info.get("start"))]


def tree_usage(pid: int) -> tuple[float, int]:
    """CPU seconds and resident bytes of ``pid`` and its descendants."""
    import psutil

    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0
    cpu, rss = 0.0, 0
    for member in members:
        try:
            times = member.cpu_times()
            cpu += times.user + times.system
            rss += member.memory_info().rss
        except psutil.Error:
            pass
    return cpu, rss


class ProgramCollector:
    """The container's programs, as supervisord sees them, at each scrape."""

    def __init__(self, socket_path: str, restarts_file: str) -> None:
        self.socket_path = socket_path
        self.restarts_file = restarts_file

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        up = GaugeMetricFamily("genropy_program_up", "1 while the program's process runs (supervisord: STARTING "
                               "or RUNNING)", labels=["program"])
        cpu = CounterMetricFamily("genropy_program_cpu_seconds", "CPU seconds of the program's processes (user + "
                                  "system, its children included)", labels=["program"])
        rss = GaugeMetricFamily("genropy_program_resident_memory_bytes", "Resident memory of the program's "
                                "processes", labels=["program"])
        restarts = CounterMetricFamily("genropy_program_restarts", "Times the program exited and supervisord "
                                       "started it again", labels=["program"])
        counted = read_restarts(self.restarts_file)
        for info in supervisor_processes(self.socket_path):
            name = info.get("name", "")
            running = info.get("statename") in ALIVE_STATES and info.get("pid")
            up.add_metric([name], 1.0 if running else 0.0)
            if running:
                seconds, resident = tree_usage(int(info["pid"]))
                cpu.add_metric([name], seconds)
                rss.add_metric([name], float(resident))
            restarts.add_metric([name], float(counted.get(name, 0)))
        yield from (up, cpu, rss, restarts)


def mark_dead_processes(directory: str) -> None:
    """Tell prometheus-client which server processes are gone (their live gauges stop counting)."""
    from prometheus_client import multiprocess

    for path in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        match = _PID_IN_NAME.search(path)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            multiprocess.mark_process_dead(int(match.group(1)), directory)  # type: ignore[no-untyped-call]


class ServerProcessesCollector:
    """What the server processes wrote, summed; dead ones marked first."""

    def __init__(self, directory: str) -> None:
        from prometheus_client import CollectorRegistry, multiprocess

        self.directory = directory
        self._inner = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(self._inner, directory)  # type: ignore[no-untyped-call]

    def collect(self) -> Iterator[Any]:
        mark_dead_processes(self.directory)
        yield from self._inner.collect()


class BackupCollector:
    """The site's last successful backup (``site_backup``'s status file in the instance's ``data/``,
    which the backup job shares with the site): its time and size; nothing before the first."""

    def __init__(self, status_file: str | None) -> None:
        self.status_file = status_file

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from genropy_asgi.container.backup_status import read_status

        status = read_status(self.status_file) if self.status_file else None
        if status is None:
            return
        yield GaugeMetricFamily("genropy_backup_last_success_timestamp_seconds", "When the site's last "
                                "successful backup finished (Unix time)", value=status["time"])
        yield GaugeMetricFamily("genropy_backup_last_size_bytes", "Size of the site's last successful backup "
                                "archive", value=float(status["size"]))


def registry(directory: str, socket_path: str, restarts_file: str, backup_status: str | None = None) -> Any:
    from prometheus_client import CollectorRegistry

    found = CollectorRegistry(auto_describe=False)
    found.register(ServerProcessesCollector(directory))
    found.register(ProgramCollector(socket_path, restarts_file))
    found.register(BackupCollector(backup_status))
    return found


def main() -> int:
    from genropy_asgi.asgi.metrics_listener import BIND_VARIABLE, serve_metrics

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        sys.stderr.write("metrics: PROMETHEUS_MULTIPROC_DIR is not set (the entrypoint sets it)\n")
        return 2
    run = settings.read(os.environ, "GENROPY_RUN")
    port = settings.read(os.environ, "GENROPY_METRICS_PORT")
    host = settings.read(os.environ, BIND_VARIABLE) or "0.0.0.0"  # the entrypoint sets it (the web port's)
    serve_metrics(host, port, registry(directory, os.path.join(run, SOCKET_FILE), restarts_path(run),
                                       settings.read(os.environ, "GENROPY_BACKUP_STATUS")))
    print(f"metrics on {host}:{port}/metrics", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
