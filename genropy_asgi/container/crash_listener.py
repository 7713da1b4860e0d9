"""supervisord event listener: a program that keeps crashing stops the whole container.

Two ways a program keeps crashing, both end the container instead of leaving it
half-alive:

- it cannot even start: supervisord gives up after ``startretries`` (FATAL);
- it starts, runs a while, then dies again and again: ``GENROPY_CRASH_RESTARTS``
  unexpected exits (default 5) within ``GENROPY_CRASH_WINDOW`` seconds (default 60),
  counted per program (``taskworker_0`` and ``taskworker_1`` separately).

Then the listener writes the reason to ``$GENROPY_RUN/fatal`` and sends SIGTERM to
supervisord; the entrypoint (supervisord's parent) prints it and exits 1. An exit
supervisord expected (a stop it was asked for) never counts.

Every exit of a program (which supervisord then restarts) is also counted, per program, in
``$GENROPY_RUN/restarts.json``: the ``genropy_program_restarts_total`` metric
(``genropy_asgi.container.metrics``).

A gnrdaemon restarted by supervisord needs nothing from here: the site programs find
their register again by themselves (``compat.register_client``), with its saved state.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import defaultdict, deque


class CrashLoopDetector:
    """Pure decision: given the events, is a program in a crash loop? (the reason, or None)"""

    def __init__(self, restarts: int, window: float) -> None:
        self.restarts = restarts
        self.window = window
        self.exits: dict[str, deque[float]] = defaultdict(deque)

    def on_event(self, event: str, fields: dict[str, str], now: float) -> str | None:
        name = fields.get("processname", "a program")
        group = fields.get("groupname", name)
        label = name if name == group else f"{group}:{name}"
        if event == "PROCESS_STATE_FATAL":
            return f"{label} could not be started (supervisord gave up after its start retries)"
        if event == "PROCESS_STATE_EXITED" and fields.get("expected") == "0":
            exits = self.exits[label]
            exits.append(now)
            while exits and now - exits[0] > self.window:
                exits.popleft()
            if len(exits) >= self.restarts:
                return f"{label} crashed {len(exits)} times within {self.window:g} s"
        return None


def counted_restart(counts: dict[str, int], event: str, fields: dict[str, str]) -> bool:
    """Count an exit of a program in ``counts`` (by its supervisord name); ``True`` if counted."""
    if event != "PROCESS_STATE_EXITED":
        return False
    name = fields.get("processname", "")
    counts[name] = counts.get(name, 0) + 1
    return True


def parse_tokens(text: str) -> dict[str, str]:
    return dict(token.split(":", 1) for token in text.split() if ":" in token)


def main() -> None:
    from genropy_asgi import settings  # validated by the entrypoint before supervisord started
    from genropy_asgi.container.metrics import read_restarts, restarts_path, write_restarts

    run = settings.read(os.environ, "GENROPY_RUN")
    detector = CrashLoopDetector(settings.read(os.environ, "GENROPY_CRASH_RESTARTS"),
                                 settings.read(os.environ, "GENROPY_CRASH_WINDOW"))
    restarts_file = restarts_path(run)
    restarts = read_restarts(restarts_file)
    while True:
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        header = parse_tokens(sys.stdin.readline())
        payload = sys.stdin.read(int(header.get("len", 0)))
        event, fields = header.get("eventname", ""), parse_tokens(payload.split("\n", 1)[0])
        if counted_restart(restarts, event, fields):
            try:
                write_restarts(restarts_file, restarts)
            except OSError:
                pass  # a full disk costs the count, never the listener
        reason = detector.on_event(event, fields, time.monotonic())
        if reason:
            with open(os.path.join(run, "fatal"), "w") as handle:
                handle.write(reason)
            os.kill(os.getppid(), signal.SIGTERM)
        sys.stdout.write("RESULT 2\nOK")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
