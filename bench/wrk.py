"""The load generator: Debian's wrk in a separate process, bounded by time, on 127.0.0.1."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass
class Load:
    rps: float
    p50: float  # ms
    p99: float  # ms
    requests: int
    errors: int  # non-2xx/3xx answers + socket errors


def available() -> bool:
    return shutil.which("wrk") is not None


def parse(output: str) -> Load:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    percentiles = {int(p): float(v) * UNITS[u]
                   for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)}
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Load(rps, percentiles.get(50, float("nan")), percentiles.get(99, float("nan")), requests, errors)


def post_script(body: str, cookie: str) -> str:
    """A wrk Lua script POSTing ``body`` (a GenroPy RPC) with the page's cookies."""
    lua = (f'wrk.method = "POST"\nwrk.body = "{body}"\n'
           'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
           f'wrk.headers["Cookie"] = "{cookie}"\n')
    handle = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    handle.write(lua)
    handle.close()
    return handle.name


def header_script(headers: dict[str, str]) -> str:
    """A wrk Lua script sending ``headers`` with every GET (credentials for the data bridge)."""
    lua = "".join(f'wrk.headers["{name}"] = "{value}"\n' for name, value in headers.items())
    handle = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    handle.write(lua)
    handle.close()
    return handle.name


def run(url: str, connections: int, seconds: int, script: str | None = None) -> Load:
    threads = max(1, min(2, connections))
    command = ["wrk", "--latency", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, seconds)}s",
               "--timeout", "10s"]
    if script:
        command += ["-s", script]
    result = subprocess.run(command + [url], capture_output=True, text=True, timeout=seconds + 60)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stdout}{result.stderr}")
    return parse(result.stdout)


def ratio(value: float, base: float, none: str = "n/a (nothing served)") -> str:
    """``value / base`` as ``1.23x``; a zero base (a load that served nothing in a short smoke
    run on a slow machine, nothing spent) is said, never divided by."""
    return f"{value / base:.2f}x" if base else none

