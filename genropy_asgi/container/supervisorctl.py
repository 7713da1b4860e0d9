"""``python -m genropy_asgi.container.supervisorctl ARGS``: supervisorctl for this container's supervisord.

supervisord's socket (``$GENROPY_RUN/supervisor.sock``, mode 0700) asks for a user and a
token made at each start (``supervisor_token``: a file of mode 0600 next to the socket);
without them supervisord logs a ``CRIT`` line at every start. This reads the token and runs
``supervisorctl`` with it in its environment (never on a command line), e.g.
``docker exec CONTAINER python -m genropy_asgi.container.supervisorctl status``.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import time
from collections.abc import Callable

USER = "genropy"
USER_VARIABLE = "GENROPY_SUPERVISOR_USER"
TOKEN_VARIABLE = "GENROPY_SUPERVISOR_TOKEN"
TOKEN_FILE = "supervisor.token"


def token_path(run: str) -> str:
    return os.path.join(run, TOKEN_FILE)


def new_token(run: str) -> str:
    """A fresh token for this start, written 0600 (the entrypoint, before supervisord starts)."""
    token = secrets.token_hex(24)
    path = token_path(run)
    if os.path.lexists(path):
        os.unlink(path)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token)
    return token


SOCKET_FILE = "supervisor.sock"


def wake(run: str, alive: Callable[[], bool], limit: float = 10.0) -> bool:
    """Connect once to supervisord's socket as soon as it listens, so its loop starts the
    programs now: supervisord only spawns them after its first poll, which otherwise waits
    out its one-second timeout (a second of every container start). True if it connected."""
    path = os.path.join(run, SOCKET_FILE)
    deadline = time.monotonic() + limit
    while alive() and time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(path)
            return True
        except OSError:  # not listening yet
            time.sleep(0.01)
    return False


def credentials(run: str) -> dict[str, str]:
    """The environment supervisorctl (and our XML-RPC clients) need, from the token file."""
    with open(token_path(run)) as handle:
        return {USER_VARIABLE: USER, TOKEN_VARIABLE: handle.read().strip()}


def main(argv: list[str]) -> int:
    from genropy_asgi import settings

    run = settings.read(os.environ, "GENROPY_RUN")
    app_dir = settings.read(os.environ, "GENROPY_APP_DIR")
    venv = settings.read(os.environ, "GENROPY_VENV")
    try:
        env = {**os.environ, "GENROPY_RUN": run, **credentials(run)}
    except OSError as exc:
        sys.stderr.write(f"supervisorctl: no token at {token_path(run)} ({exc.strerror}): is supervisord running?\n")
        return 2
    command = [os.path.join(venv, "bin", "supervisorctl"), "-c", os.path.join(app_dir, "config", "supervisord.conf"),
               *argv]
    os.execve(command[0], command, env)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
