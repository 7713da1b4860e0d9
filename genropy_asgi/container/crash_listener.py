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


def parse_tokens(text: str) -> dict[str, str]:
    return dict(token.split(":", 1) for token in text.split() if ":" in token)


def main() -> None:
    from genropy_asgi import settings  # validated by the entrypoint before supervisord started

    run = settings.read(os.environ, "GENROPY_RUN")
    detector = CrashLoopDetector(settings.read(os.environ, "GENROPY_CRASH_RESTARTS"),
                                 settings.read(os.environ, "GENROPY_CRASH_WINDOW"))
    while True:
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        header = parse_tokens(sys.stdin.readline())
        payload = sys.stdin.read(int(header.get("len", 0)))
        event, fields = header.get("eventname", ""), parse_tokens(payload.split("\n", 1)[0])
        reason = detector.on_event(event, fields, time.monotonic())
        if reason:
            with open(os.path.join(run, "fatal"), "w") as handle:
                handle.write(reason)
            os.kill(os.getppid(), signal.SIGTERM)
        sys.stdout.write("RESULT 2\nOK")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
