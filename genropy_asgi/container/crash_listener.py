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

It also keeps the process set coherent after gnrdaemon died and supervisord restarted
it (``DaemonRestartWatcher``): GenroPy's site processes keep the addresses of the old
daemon's site registers and would answer 500 for ever, so once the new gnrdaemon is
RUNNING the listener restarts the programs that built a site (the web server, the async
server, the task scheduler and workers) through supervisord's own RPC interface. The
users' sessions were in the dead daemon: they are lost either way.
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


DAEMON_PROGRAM = "gnrdaemon"
NOT_SITE_PROGRAMS = {DAEMON_PROGRAM, "crash_exit"}


class DaemonRestartWatcher:
    """Pure decision: after an unexpected gnrdaemon exit, is it back (restart the site programs)?"""

    def __init__(self) -> None:
        self.daemon_died = False

    def on_event(self, event: str, fields: dict[str, str]) -> bool:
        if fields.get("processname") != DAEMON_PROGRAM:
            return False
        if event == "PROCESS_STATE_EXITED" and fields.get("expected") == "0":
            self.daemon_died = True
        elif event == "PROCESS_STATE_RUNNING" and self.daemon_died:
            self.daemon_died = False
            return True
        return False


def restart_site_programs() -> list[str]:
    """Restart every running program that built a GenroPy site (supervisord's XML-RPC)."""
    from supervisor import childutils

    rpc = childutils.getRPCInterface(os.environ).supervisor
    restarted = []
    for info in rpc.getAllProcessInfo():
        if info["name"] in NOT_SITE_PROGRAMS or info["statename"] not in ("RUNNING", "STARTING", "BACKOFF"):
            continue
        full_name = info["name"] if info["group"] == info["name"] else f"{info['group']}:{info['name']}"
        rpc.stopProcess(full_name, True)
        rpc.startProcess(full_name, False)
        restarted.append(full_name)
    return restarted


def parse_tokens(text: str) -> dict[str, str]:
    return dict(token.split(":", 1) for token in text.split() if ":" in token)


def main() -> None:
    from genropy_asgi import settings  # validated by the entrypoint before supervisord started

    run = settings.read(os.environ, "GENROPY_RUN")
    detector = CrashLoopDetector(settings.read(os.environ, "GENROPY_CRASH_RESTARTS"),
                                 settings.read(os.environ, "GENROPY_CRASH_WINDOW"))
    watcher = DaemonRestartWatcher()
    while True:
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        header = parse_tokens(sys.stdin.readline())
        payload = sys.stdin.read(int(header.get("len", 0)))
        event, fields = header.get("eventname", ""), parse_tokens(payload.split("\n", 1)[0])
        reason = detector.on_event(event, fields, time.monotonic())
        if not reason and watcher.on_event(event, fields):
            try:
                restarted = restart_site_programs()
                sys.stderr.write(f"gnrdaemon restarted: restarted {', '.join(restarted) or 'nothing'} "
                                 "(their site registers were in the old daemon)\n")
            except Exception as exc:  # the RPC failed: the programs keep running as they are
                sys.stderr.write(f"gnrdaemon restarted, the site programs could not be: {exc}\n")
            sys.stderr.flush()
        if reason:
            with open(os.path.join(run, "fatal"), "w") as handle:
                handle.write(reason)
            os.kill(os.getppid(), signal.SIGTERM)
        sys.stdout.write("RESULT 2\nOK")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
