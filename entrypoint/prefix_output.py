"""Run a supervised program with each line of its output prefixed by its name.

``prefix_output.py NAME COMMAND [ARGS...]``: the container's stdout interleaves
gnrdaemon, the web server, the async server, the scheduler and the workers; every
line says which one wrote it (``async | ...``). stderr is merged into stdout.

The program keeps the process supervisord started (this script forks the prefixer,
then execs the program in place): supervisord's signals, its PID, ``kill -9`` and
the exit status all concern the program itself. The prefixer reads the program's
output pipe until every writer closed it, ignoring the stop signals supervisord
sends to the whole group, so nothing logged while draining is lost.
"""

from __future__ import annotations

import os
import signal
import sys


def prefix_lines(name: str, read_fd: int) -> None:
    """Copy ``read_fd`` to stdout line by line, ``NAME | `` before each line, until EOF."""
    prefix = f"{name} | ".encode()
    out = sys.stdout.buffer
    with os.fdopen(read_fd, "rb") as pipe:
        for line in pipe:
            out.write(prefix + (line if line.endswith(b"\n") else line + b"\n"))
            out.flush()


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write("usage: prefix_output.py NAME COMMAND [ARGS...]\n")
        return 2
    name, command = argv[0], argv[1:]
    read_fd, write_fd = os.pipe()
    if os.fork() == 0:
        os.close(write_fd)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # this process only: it execs nothing
        try:
            prefix_lines(name, read_fd)
        finally:
            os._exit(0)
    os.close(read_fd)
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
