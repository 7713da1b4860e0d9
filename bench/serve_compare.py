"""gnrwsgiserve vs gnrasgiserve on the demo site: requests/s and latency, side by side.

    .venv/bin/python bench/serve_compare.py [--duration 5] [--rounds 3] [--connections 1,16]

Both servers run at once on 127.0.0.1 against one gnrdaemon and one SQLite demo
database; Debian's ``wrk`` (a separate process) loads them in alternation, round
after round, so both see the same machine noise. Prints a table of medians and
the ASGI/WSGI ratio; asserts nothing (the machine is noisy: read the figures).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from genropy_asgi.testing.local import (BIN, GnrDaemonProcess, GnrWorkspace, ServerProcess,  # noqa: E402
                                        free_port)

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> dict[str, float]:
    """requests/s, p50 and p99 (ms), errors (non-2xx + socket errors) from ``wrk --latency``."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    percentiles = {int(p): float(v) * UNITS[u]
                   for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)}
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return {"rps": rps, "p50": percentiles.get(50, float("nan")), "p99": percentiles.get(99, float("nan")),
            "errors": errors}


def run_wrk(url: str, connections: int, duration: float) -> dict[str, float]:
    threads = max(1, min(2, connections))
    result = subprocess.run(["wrk", "--latency", "-t", str(threads), "-c", str(connections),
                             "-d", f"{max(1, round(duration))}s", "--timeout", "10s", url],
                            capture_output=True, text=True, timeout=duration + 60)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stdout}{result.stderr}")
    return parse_wrk(result.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", default="1,16")
    parser.add_argument("--path", default="/index")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    root = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    workspace = GnrWorkspace.create(REPO / "demo", root=root)
    workspace.db_setup()
    daemon = GnrDaemonProcess(workspace)
    servers = {}
    try:
        for name, command in (("wsgi", "gnrwsgiserve"), ("asgi", "gnrasgiserve")):
            port = free_port()
            servers[name] = ServerProcess([str(BIN / command), "demo", "-p", str(port), "-H", "127.0.0.1",
                                           "--nodebug"], workspace, port, command, env={"GNR_LOGLEVEL": "warning"})
        for server in servers.values():  # warm up: first pages compile resources
            run_wrk(server.base_url + options.path, 1, 1)
        rows = []
        for connections in [int(c) for c in options.connections.split(",")]:
            samples: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
            for _ in range(options.rounds):
                for name, server in servers.items():
                    samples[name].append(run_wrk(server.base_url + options.path, connections, options.duration))
            medians = {name: {key: statistics.median(s[key] for s in runs) for key in ("rps", "p50", "p99")}
                       | {"errors": sum(s["errors"] for s in runs)} for name, runs in samples.items()}
            rows.append((connections, medians))
        print(f"\n{options.path}: median of {options.rounds} rounds x {options.duration:g}s, wrk on 127.0.0.1\n")
        print(f"{'c':>4} {'server':<14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for connections, medians in rows:
            for name, label in (("wsgi", "gnrwsgiserve"), ("asgi", "gnrasgiserve")):
                m = medians[name]
                print(f"{connections:>4} {label:<14} {m['rps']:>8.1f} {m['p50']:>8.1f} {m['p99']:>8.1f} {m['errors']:>7}")
            ratio = medians["asgi"]["rps"] / medians["wsgi"]["rps"] if medians["wsgi"]["rps"] else float("nan")
            print(f"{'':>4} {'asgi/wsgi':<14} {ratio:>8.2f}x")
        return 0
    finally:
        for server in servers.values():
            server.stop()
        daemon.stop()
        workspace.remove()


if __name__ == "__main__":
    sys.exit(main())
