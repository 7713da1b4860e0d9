"""``python -m genropy_asgi.container.liveness``: is the container's program alive? (exit 0/1)

For the workloads that answer no HTTP (the chart's task workers: ``gnr web taskworker``,
exec'd by the entrypoint under tini): every process under the container's init (PID 1),
and their children (GenroPy's process pool), must exist and be neither a zombie nor
stopped. The container ends by itself when its program exits; this catches the program that
stays, unable to run: stopped (``SIGSTOP``, a debugger), or a zombie nobody reaps.

Liveness only: never a dependency (the scheduler, the database), so a scheduler outage does
not restart every worker. One line on stderr says what is wrong.
"""

from __future__ import annotations

import sys

DEAD_STATES = ("zombie", "stopped", "dead", "tracing-stop")


def problem(init_pid: int = 1) -> str | None:
    """What is wrong with the programs under ``init_pid``, or ``None``."""
    import psutil

    try:
        programs = psutil.Process(init_pid).children(recursive=True)
    except psutil.Error as exc:
        return f"cannot read process {init_pid}: {exc}"
    if not programs:
        return f"no program runs under process {init_pid}"
    for program in programs:
        try:
            status = program.status()
            if status in DEAD_STATES:
                return f"process {program.pid} ({' '.join(program.cmdline()[:4])[:120]}) is {status}"
        except psutil.NoSuchProcess:
            continue  # ended between the listing and the look: the next probe sees the truth
        except psutil.Error as exc:
            return f"cannot read process {program.pid}: {exc}"
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    found = problem(int(argv[0]) if argv else 1)
    if found:
        print(f"not alive: {found}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
