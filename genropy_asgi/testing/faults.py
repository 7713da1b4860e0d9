"""Fault injection in a running genropy-asgi container: find a supervised program, kill it.

    pid = program_pid(container, "gnrdaemon")
    kill(container, pid)                       # SIGKILL, as the kernel's OOM killer would

``container`` is a docker-py container (``site.get_wrapped_container()`` of a
testcontainers site). Programs are named as supervisord names them (see
``PROGRAMS``); the PID found is the program's own process (the group leader
supervisord started), or for ``"gunicorn worker"`` one of the master's workers.
"""

from __future__ import annotations

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
