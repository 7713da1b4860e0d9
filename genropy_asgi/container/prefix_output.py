"""Run a supervised program with each line of its output prefixed by its name.

``prefix_output.py NAME COMMAND [ARGS...]``: the container's stdout interleaves
gnrdaemon, the web server, the async server, the scheduler and the workers; every
line says which one wrote it (``async | ...``). stderr is merged into stdout. With
``GENROPY_LOG_FORMAT=json`` each line becomes one JSON object instead (``genropy_asgi.logs``):
``time``, ``level``, ``program``, ``message``; a line that already is one (our own
processes') keeps its fields and gets the program's name.

The program keeps the process supervisord started (this script forks the prefixer,
then execs the program in place): supervisord's signals, its PID, ``kill -9`` and
the exit status all concern the program itself. The prefixer reads the program's
output pipe until every writer closed it, ignoring the stop signals supervisord
sends to the whole group, so nothing logged while draining is lost.

When the program dies without stopping its own children (``kill -9`` of gnrdaemon or of
the gunicorn master: their forked children keep the port and every restart fails with
"Address already in use"), the prefixer -- told by the kernel (``PR_SET_PDEATHSIG``) --
kills what is left of the program's process group (supervisord makes each program a
group leader), so supervisord's own restart finds the port free.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def group_members(group: int) -> list[int]:
    """PIDs of the processes in process group ``group`` (from /proc)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group:  # after "pid (comm)": state, ppid, pgrp
                members.append(int(entry))
    return members


def reap_group_when_the_program_dies(program_pid: int) -> None:
    """In the prefixer: when ``program_pid`` (our parent) dies, SIGKILL the rest of its group."""
    group = os.getpgid(0)
    if group != program_pid:
        return  # not a group of its own (run by hand, not by supervisord): kill nothing

    def reap(signum: int, frame: object) -> None:
        for pid in group_members(group):  # the program's orphaned children; the prefixer drains on
            if pid != os.getpid():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    signal.signal(signal.SIGUSR1, reap)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGUSR1)
    except (OSError, AttributeError):
        return  # not Linux: no reaping
    if os.getppid() != program_pid:  # it died before the prctl
        reap(signal.SIGUSR1, None)


def prefix_lines(name: str, read_fd: int, json_lines: bool = False) -> None:
    """Copy ``read_fd`` to stdout line by line until EOF: ``NAME | `` before each line, or (json)
    each line as one JSON object naming the program (``genropy_asgi.logs.parse_line``)."""
    prefix = f"{name} | ".encode()
    out = sys.stdout.buffer
    if json_lines:
        from genropy_asgi.logs import dumps, parse_line
    with os.fdopen(read_fd, "rb") as pipe:
        for line in pipe:
            if json_lines:
                out.write(dumps(parse_line(name, line.decode("utf-8", "replace"))).encode() + b"\n")
            else:
                out.write(prefix + (line if line.endswith(b"\n") else line + b"\n"))
            out.flush()


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write("usage: prefix_output.py NAME COMMAND [ARGS...]\n")
        return 2
    name, command = argv[0], argv[1:]
    read_fd, write_fd = os.pipe()
    program_pid = os.getpid()
    if os.fork() == 0:
        os.close(write_fd)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # this process only: it execs nothing
        reap_group_when_the_program_dies(program_pid)
        try:
            from genropy_asgi.logs import JSON, log_format

            prefix_lines(name, read_fd, log_format() == JSON)
        finally:
            os._exit(0)
    os.close(read_fd)
    os.environ["GENROPY_PROGRAM"] = name  # our own JSON records name their program the same way
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        os.write(2, f"cannot start {command[0]}: {exc.strerror or exc}\n".encode())
        return 127
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
