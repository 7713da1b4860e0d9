"""How the entrypoint speaks: a ``genropy-asgi:`` line per step, one error line and an exit status
(``GENROPY_LOG_FORMAT=json``: the same lines as JSON records of program ``entrypoint``)."""

from __future__ import annotations

import sys
import time

from genropy_asgi.container.plan import LaunchPlan


class StartError(Exception):
    """A problem found while acting on a valid plan; the message is the line to print.

    ``status`` 2: the configuration (a mount, an owner) must change; 1: a runtime
    failure (the database never answered, a setup step failed) that a retry may cure.
    """

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


PROGRAM = "entrypoint"
STARTED = time.monotonic()  # the entrypoint's start: each step line says how long since
STARTED_AT_VARIABLE = "GENROPY_STARTED_AT"  # the same moment (epoch seconds) for the programs' "ready" line


def elapsed() -> str:
    return f"[+{time.monotonic() - STARTED:.1f}s]"


def say(level: str, text: str) -> None:
    from genropy_asgi.logs import JSON, dumps, log_format, record

    if log_format() == JSON:
        line = dumps(record(PROGRAM, level, text))
    else:
        line = f"genropy-asgi: error: {text}" if level == "ERROR" else f"genropy-asgi: {text}"
    print(line, file=sys.stderr, flush=True)


def fail(message: str, status: int) -> int:
    say("ERROR", message)
    return status


def log(plan: LaunchPlan, message: str) -> None:
    say("INFO", f"{elapsed()} {plan.masked(message)}")
