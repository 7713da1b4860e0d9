"""Fault injection in a running genropy-asgi container: find a supervised program, kill it.

    pid = program_pid(container, "gnrdaemon")
    kill(container, pid)                       # SIGKILL, as the kernel's OOM killer would

``container`` is a docker-py container (``site.get_wrapped_container()`` of a
testcontainers site). Programs are named as supervisord names them (see
``PROGRAMS``); the PID found is the program's own process (the group leader
supervisord started), or for ``"gunicorn worker"`` one of the master's workers.

``kill_under_load`` and ``restart_postgres_under_load`` run a fault under a
``SteadyLoad`` and return what the clients saw (the fault tests and the bench's
"faults" section share them).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import httpx

from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.load import SteadyLoad

# command-line fragment of each supervised program (the process that prefix_output execs)
PROGRAMS = {
    "gnrdaemon": "genropy_asgi.container.gnrdaemon",
    "web server": "gnrasgiserve",
    "gunicorn master": "gunicorn -c",
    "gunicorn worker": "gunicorn -c",
    "async": "gnr web async",
    "task scheduler": "gnr web taskscheduler",
    "task worker": "gnr web taskworker",
}

FIND = """
import glob, sys
needle, leader = sys.argv[1].encode(), sys.argv[2] == "leader"
for proc in glob.glob("/proc/[0-9]*"):
    try:
        command = open(proc + "/cmdline", "rb").read().replace(b"\\0", b" ")
        stat = open(proc + "/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    pid = proc.rsplit("/", 1)[1]
    launcher = b"prefix_output" in command or b"wait_for_daemon" in command  # not the program yet
    if needle in command and not launcher and (stat[2] == pid) == leader:
        print(pid)
"""


def program_pids(container, program: str) -> list[int]:
    """PIDs of ``program`` (a key of ``PROGRAMS``) in ``container``; several for workers."""
    role = "member" if program == "gunicorn worker" else "leader"
    result = container.exec_run(["python3", "-c", FIND, PROGRAMS[program], role])
    if result.exit_code != 0:
        raise RuntimeError(f"looking for {program} failed: {result.output.decode(errors='replace')}")
    return [int(pid) for pid in result.output.decode().split()]


def program_pid(container, program: str) -> int:
    """The one PID of ``program`` (the first worker for ``"gunicorn worker"``)."""
    pids = program_pids(container, program)
    if not pids or (len(pids) > 1 and program != "gunicorn worker"):
        raise RuntimeError(f"{program}: expected one process, found {pids}")
    return pids[0]


def kill(container, pid: int, signal: str = "SIGKILL") -> None:
    """Send ``signal`` to ``pid`` inside ``container`` (as the container's user)."""
    result = container.exec_run(["python3", "-c", f"import os, signal; os.kill({pid}, signal.{signal})"])
    if result.exit_code != 0:
        raise RuntimeError(f"kill {pid} failed: {result.output.decode(errors='replace')}")


# -- a fault under a steady load, measured --------------------------------------------------

@dataclasses.dataclass
class Outcome:
    """What clients saw around a fault: seconds until pages answered again, failed requests."""
    seconds: float  # from the fault until the site answered again
    failed: list  # load.Answer sent after the fault and not answered 200
    total: int  # requests sent during the whole run
    summary: str  # e.g. "200: 80, ConnectError: 12"
    extra: dict = dataclasses.field(default_factory=dict)


def serving_again(site, check: Callable[[], bool], since: float, limit: float = 90) -> float:
    """Seconds from ``since`` until ``/_server/ready`` is 200 and ``check()`` holds; raises if the
    container stops (the fault took it down) or after ``limit``."""
    container = site.get_wrapped_container()
    while time.monotonic() - since < limit:
        container.reload()
        if container.status != "running":
            raise AssertionError(f"the container is {container.status}:\n{site.logs_tail()}")
        try:
            if httpx.get(site.get_url() + "/_server/ready", timeout=5).status_code == 200 and check():
                return time.monotonic() - since
        except (httpx.HTTPError, AssertionError):
            pass
        time.sleep(0.25)
    raise AssertionError(f"not serving again after {limit:g} s:\n{site.logs_tail()}")


def kill_under_load(site, program: str, rpc: str, clients: int = 2) -> Outcome:
    """SIGKILL ``program`` while ``clients`` call the index page's ``rpc``; measure the recovery."""
    container = site.get_wrapped_container()
    pid = program_pid(container, program)
    with SteadyLoad(site.get_url(), clients=clients, rpc=rpc, pause=0.05) as steady:
        time.sleep(1)
        started = time.monotonic()
        kill(container, pid)
        seconds = serving_again(site, lambda: GenropyPage(site.get_url()).rpc(rpc) is not None, started)
        time.sleep(1)
    failed = steady.failures(since=started)
    return Outcome(seconds, failed, len(steady.snapshot()), steady.summary(failed), {"pid": pid})


def restart_postgres_under_load(site, rpc: str, clients: int = 2) -> Outcome:
    """Restart the site's PostgreSQL container (``with_postgres()``) under load; ``seconds`` counts
    from the moment PostgreSQL accepts connections again until a page answers."""
    database = site.postgres.get_wrapped_container()
    with SteadyLoad(site.get_url(), clients=clients, rpc=rpc, pause=0.05) as steady:
        time.sleep(1)
        stopped = time.monotonic()
        database.restart(timeout=10)
        while database.exec_run(["pg_isready", "-h", "127.0.0.1", "-q"]).exit_code != 0:
            if time.monotonic() - stopped > 60:
                raise AssertionError("PostgreSQL did not accept connections within 60 s of its restart")
            time.sleep(0.1)
        accepting = time.monotonic()
        while steady.first_success_after(accepting) is None and time.monotonic() - accepting < 60:
            time.sleep(0.1)
        time.sleep(1)
    first = steady.first_success_after(accepting)
    if first is None:
        raise AssertionError(f"no page answered within 60 s of PostgreSQL's restart:\n{site.logs_tail()}")
    failed = steady.failures(since=stopped)
    return Outcome(first - accepting, failed, len(steady.snapshot()), steady.summary(failed),
                   {"database_down": accepting - stopped, "failed_after_first": steady.failures(since=first)})
