"""Wait until gnrdaemon listens, then exec the command (same PID): ``wait_for_daemon.py CMD...``.

The async server and the task workers build a GenroPy site at start, which needs
the gnrdaemon that supervisord starts next to them. Waiting here (up to
``GENROPY_DAEMON_WAIT`` seconds, on ``GENROPY_DAEMON_ADDRESS`` host:port)
keeps a slow daemon start from counting as crashes of the programs.
"""

from __future__ import annotations

import os
import socket
import sys


def wait(address: str, seconds: float) -> bool:
    from genropy_asgi.polling import retry

    host, _, port = address.rpartition(":")
    try:
        retry(lambda: socket.create_connection((host, int(port)), timeout=1).close(), seconds, 0.2, OSError)
        return True
    except OSError:
        return False


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("usage: wait_for_daemon.py COMMAND [ARGS...]\n")
        return 2
    from genropy_asgi import settings

    address = settings.read(os.environ, "GENROPY_DAEMON_ADDRESS")
    if not wait(address, settings.read(os.environ, "GENROPY_DAEMON_WAIT", 60.0)):
        sys.stderr.write(f"gnrdaemon not listening on {address}: not starting {argv[0]}\n")
        return 1
    # one line per start: GenroPy's async server prints nothing when all is well
    print(f"gnrdaemon answers on {address}: starting {' '.join(os.path.basename(a) for a in argv[:3])}",
          flush=True)
    os.execvp(argv[0], argv)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
