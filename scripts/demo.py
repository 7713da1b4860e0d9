"""scripts/demo's program: the repository's demo site served by gnrasgiserve on this
machine's processes (no Docker), run by ``scripts/demo`` with the project's venv."""

# Writes a GenroPy config folder for the demo project (kept in a workspace folder,
# SQLite), creates/updates its tables, starts its gnrdaemon, then runs
# ``gnrasgiserve demo`` in the foreground. Ctrl-C (or SIGTERM) stops the server, then
# the daemon. For a container or your own project, see the README.

import argparse
import signal
import subprocess
import sys
from pathlib import Path

from genropy_asgi.testing.local import BIN, GnrDaemonProcess, GnrWorkspace

DEFAULT_PROJECT = Path(__file__).resolve().parent.parent / "demo"  # scripts/../demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo", description="the repository's demo site, served by gnrasgiserve")
    parser.add_argument("--project", type=Path, default=DEFAULT_PROJECT, help="GenroPy project folder")
    parser.add_argument("--workspace", type=Path, default=Path.home() / ".cache" / "genropy-asgi-demo",
                        help="where the config folder and the database live")
    parser.add_argument("-p", "--port", default="8080")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    options, extra = parser.parse_known_args(argv)
    if not (options.project / "instances" / "demo").is_dir():
        parser.error(f"--project {options.project}: no instances/demo in it")
    options.workspace.mkdir(parents=True, exist_ok=True)
    workspace = GnrWorkspace.create(options.project, root=options.workspace)
    print(f"demo: config folder {workspace.config_dir}; creating tables...", file=sys.stderr)
    workspace.db_setup()
    daemon = GnrDaemonProcess(workspace)
    server = subprocess.Popen([str(BIN / "gnrasgiserve"), "demo", "-p", options.port, "-H", options.host,
                               "--nodebug", *extra], env=workspace.env())
    signal.signal(signal.SIGTERM, lambda *_: server.send_signal(signal.SIGTERM))
    try:
        return server.wait()
    except KeyboardInterrupt:
        return server.wait()
    finally:
        daemon.stop()


if __name__ == "__main__":
    sys.exit(main())
