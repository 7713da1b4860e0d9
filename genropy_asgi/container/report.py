"""How the entrypoint speaks: a ``genropy-asgi:`` line per step, one error line and an exit status."""

from __future__ import annotations

import sys

from genropy_asgi.container.plan import LaunchPlan


class StartError(Exception):
    """A problem found while acting on a valid plan; the message is the line to print.

    ``status`` 2: the configuration (a mount, an owner) must change; 1: a runtime
    failure (the database never answered, a setup step failed) that a retry may cure.
    """

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def fail(message: str, status: int) -> int:
    print(f"genropy-asgi: error: {message}", file=sys.stderr, flush=True)
    return status


def log(plan: LaunchPlan, message: str) -> None:
    print(f"genropy-asgi: {plan.masked(message)}", file=sys.stderr, flush=True)
