"""supervisord event listener: a program in FATAL state stops the whole container.

supervisord gives up on a program after ``startretries`` failed starts (FATAL) and
would otherwise keep the container alive half-dead. This listener writes the
program's name to ``$GENROPY_RUN/fatal`` and sends SIGTERM to supervisord; the
entrypoint (supervisord's parent) then exits 1 with a message naming the program.
"""

from __future__ import annotations

import os
import signal
import sys


def main() -> None:
    run = os.environ.get("GENROPY_RUN", "/var/lib/genropy/run")
    while True:
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        header = dict(token.split(":", 1) for token in sys.stdin.readline().split())
        payload = sys.stdin.read(int(header.get("len", 0)))
        fields = dict(token.split(":", 1) for token in payload.split() if ":" in token)
        if header.get("eventname") == "PROCESS_STATE_FATAL":
            with open(os.path.join(run, "fatal"), "w") as handle:
                handle.write(fields.get("processname", "a program"))
            os.kill(os.getppid(), signal.SIGTERM)
        sys.stdout.write("RESULT 2\nOK")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
