"""genropy-asgi benchmarks: figures side by side in one run, never assertions.

    .venv/bin/python bench/run.py                 # everything, writes bench/RESULTS.md
    .venv/bin/python bench/run.py --smoke         # seconds-long version (CI), bench/out/
    .venv/bin/python bench/run.py --only servers,streaming   # writes bench/out/RESULTS-partial.md

Sections (issue "Benchmarks"): gateway overhead in-process; one process, gnrwsgiserve
vs gnrasgiserve; scaling, the image's gunicorn+uvicorn mode vs GenroPy's serveprod,
with CPU per request split between server and gnrdaemon; upstream genropy-asgi 0.8.0
(separate venv); streaming through the gateway; the container (size, cold start);
memory; the real-time channel, relayed on the server's port vs straight to
``gnr web async``'s Unix socket. Load: wrk (a separate process) on 127.0.0.1, bounded in time; medians of
rounds alternating the contenders, so both see the same machine noise.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]
# every container the bench starts is removed by its own with-block or finally (as in the suite):
# no reaper needed, and its image cannot be pulled where there is no registry
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

import procstats  # noqa: E402
import wrk  # noqa: E402
from section_backup import section_backup  # noqa: E402,F401  (a section in a module of its own)
from section_data_api import section_data_api  # noqa: E402,F401
from section_register import section_register  # noqa: E402,F401
from section_scaleout import section_scaleout  # noqa: E402,F401

from genropy_asgi.testing.client import GenropyClient, cookie_header  # noqa: E402
from genropy_asgi.testing.load import stalled_bodies  # noqa: E402
from genropy_asgi.testing.local import (  # noqa: E402
    BIN,
    GnrDaemonProcess,
    GnrWorkspace,
    ManagedProcess,
    ServerProcess,
    free_port,
    wait_for_port,
)

SECTIONS = ("gateway", "security", "flood", "page", "servers", "scaling", "upstream", "streaming", "websocket",
            "container", "scaled", "faults", "memory", "testing", "backup", "register", "scaleout", "data_api")


class Bench:
    """Shared state: one workspace and gnrdaemon; the report being written."""

    def __init__(self, smoke: bool) -> None:
        self.smoke = smoke
        self.seconds = 2 if smoke else 8
        self.rounds = 1 if smoke else 3
        self.root = Path(tempfile.mkdtemp(prefix="genropy-bench-"))
        self.workspace = GnrWorkspace.create(REPO / "demo", root=self.root / "ws")
        self.workspace.db_setup()
        self.daemon = GnrDaemonProcess(self.workspace)
        self.report: list[str] = []
        self.memory: dict[str, str] = {}

    def close(self) -> None:
        self.daemon.stop()
        self.workspace.remove()

    def table(self, title: str, header: list[str], rows: list[list[object]], note: str = "") -> None:
        lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
        if note:
            lines += ["", note]
        text = "\n".join(lines) + "\n"
        print("\n" + text, flush=True)
        self.report.append(text)

    def server(self, name: str, argv: list[str], env: dict[str, str] | None = None, port: int | None = None,
               ready_path: str = "/index") -> ServerProcess:
        port = port or free_port()
        argv = [a.replace("{port}", str(port)) for a in argv]
        # gnrdaemon's register for every server of the shared workspace (a local one would be
        # found by the others through sitedaemon.xml): section ``register`` measures local
        return ServerProcess(argv, self.workspace, port, name,
                             env={"GNR_LOGLEVEL": "warning", "GENROPY_REGISTER": "pyro", **(env or {})},
                             ready_path=ready_path, timeout=180)

    def asgi(self) -> ServerProcess:
        """gnrasgiserve on gnrdaemon's register, as the werkzeug contender beside it (section
        ``register`` measures GENROPY_REGISTER=local, on a workspace of its own)."""
        return self.server("gnrasgiserve", [str(BIN / "gnrasgiserve"), "demo", "-p", "{port}", "-H", "127.0.0.1",
                                            "--nodebug"])

    def wsgi(self) -> ServerProcess:
        return self.server("gnrwsgiserve", [str(BIN / "gnrwsgiserve"), "demo", "-p", "{port}", "-H", "127.0.0.1",
                                            "--nodebug"])


def rpc_script(base_url: str) -> str:
    """A wrk script calling the demo page's note_count RPC with a real page_id and cookies."""
    from genropy_asgi.testing.client import GenropyPage

    page = GenropyPage(base_url)
    cookie = "; ".join(f"{name}={value}" for name, value in page.client.cookies.items())
    return wrk.post_script(f"method=note_count&page_id={page.page_id}", cookie)


def median_load(runs: list[wrk.Load]) -> dict[str, float]:
    return {"rps": statistics.median(r.rps for r in runs), "p50": statistics.median(r.p50 for r in runs),
            "p99": statistics.median(r.p99 for r in runs), "errors": sum(r.errors for r in runs),
            "requests": sum(r.requests for r in runs)}


async def call_asgi(app, path: str) -> None:
    """One in-process GET of ``path`` on an ASGI app (empty body, the answer dropped)."""
    done = False

    async def receive():
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)

    async def send(message):
        pass

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80)}
    await app(scope, receive, send)


# -- 1. gateway overhead, in-process ---------------------------------------------------

def section_gateway(bench: Bench) -> None:
    """The same GenroPy page: the WSGI callable called directly vs the ASGI server's chain."""
    from werkzeug.test import EnvironBuilder

    os.environ.update(bench.workspace.env())
    from genropy_asgi.asgi.server import GenropyAsgiServer
    from genropy_asgi.launch.site import SiteLaunch

    launch = SiteLaunch(["demo", "--nodebug"])
    site = launch.build_site()
    server = GenropyAsgiServer(wsgi_app=site)
    calls = 20 if bench.smoke else 150

    def direct() -> None:
        environ = EnvironBuilder(path="/index").get_environ()
        iterable = site(environ, lambda status, headers, exc_info=None: None)
        b"".join(iterable)
        getattr(iterable, "close", lambda: None)()

    async def through_gateway() -> None:
        await call_asgi(server, "/index")

    async def measure() -> tuple[list[float], list[float]]:
        direct_times, gateway_times = [], []
        for _ in range(3):  # warm up both
            direct()
            await through_gateway()
        for _ in range(bench.rounds):
            for _ in range(calls):
                start = time.perf_counter()
                direct()
                direct_times.append(time.perf_counter() - start)
            for _ in range(calls):
                start = time.perf_counter()
                await through_gateway()
                gateway_times.append(time.perf_counter() - start)
        return direct_times, gateway_times

    direct_times, gateway_times = asyncio.run(measure())
    d, g = statistics.median(direct_times) * 1000, statistics.median(gateway_times) * 1000
    bench.table("Gateway overhead (in-process, /index, sequential)", ["path", "median ms/request", "vs direct"],
                [["WSGI callable called directly", f"{d:.2f}", "1.00x"],
                 ["GenropyAsgiServer -> WsgiGatewayMiddleware -> a2wsgi", f"{g:.2f}", f"{g / d:.3f}x"]],
                f"Overhead: {100 * (g - d) / d:+.1f}% (target: under 5%). {len(direct_times)} calls each.")


# -- 1b. the security front: form parsing before/after, the path rule's cost ------------

def section_security(bench: Bench) -> None:
    """GenroPy's markup check (the regex vs page_args_compat) and the front's cost per request."""
    import re

    from genropy_asgi.compat.page_args import MARKUP_PATTERN, looks_like_markup
    from genropy_asgi.testing.client import GenropyPage

    regex = re.compile(MARKUP_PATTERN)
    sizes = [10_000, 25_000] if bench.smoke else [10_000, 25_000, 50_000, 100_000]
    rows = []
    server = bench.asgi()
    try:
        page = GenropyPage(server.base_url)
        for size in sizes + [1_000_000]:
            value = "x" * size
            before = "(minutes)"
            if size in sizes:
                started = time.perf_counter()
                regex.search(value)
                before = f"{time.perf_counter() - started:.3f}"
            started = time.perf_counter()
            looks_like_markup(value)
            after = time.perf_counter() - started
            started = time.perf_counter()
            response = page.client.post("/index", data={"padding": value},
                                        headers={"content-type": "application/x-www-form-urlencoded"})
            request = time.perf_counter() - started
            rows.append([f"{size // 1000} KB", before, f"{after:.4f}", f"{request:.3f} ({response.status_code})"])
        over = page.client.post("/index", data={"padding": "x" * 2_000_000})
        rows.append(["2000 KB", "(minutes)", "-", f"{over.status_code} at once (GENROPY_MAX_FORM_BYTES)"])
    finally:
        server.stop()
    bench.table("GenroPy's markup check of a page's arguments (one urlencoded field)",
                ["form field", "GenroPy 26.10 regex, s", "page_args_compat, s", "POST /index on gnrasgiserve, s"],
                rows, "The regex is what build_arg_dict runs on every page argument (profiled: it was 88% of "
                      "the samples of a 100 KB POST); the POST column is the whole request with the fix.")

    os.environ.update(bench.workspace.env())
    from genropy_asgi.asgi.server import GenropyAsgiServer
    from genropy_asgi.launch.site import SiteLaunch

    site = SiteLaunch(["demo", "--nodebug"]).build_site()
    asgi = GenropyAsgiServer(wsgi_app=site)
    unguarded = super(GenropyAsgiServer, asgi).__call__
    calls = 20 if bench.smoke else 200

    async def measure(path: str, count: int) -> tuple[float, float]:
        times: dict[str, list[float]] = {"guarded": [], "unguarded": []}
        for _ in range(3):
            await call_asgi(asgi, path)
            await call_asgi(unguarded, path)
        for _ in range(bench.rounds * 2):
            for name, app in (("guarded", asgi), ("unguarded", unguarded)):
                for _ in range(count):
                    started = time.perf_counter()
                    await call_asgi(app, path)
                    times[name].append(time.perf_counter() - started)
        return statistics.median(times["unguarded"]) * 1e6, statistics.median(times["guarded"]) * 1e6

    measured = {path: asyncio.run(measure(path, count)) for path, count in (
        ("/_server/health", calls * 10), ("/_rsrc/common/app_images/square_logo.svg", calls), ("/index", calls // 2))}
    front = measured["/_server/health"][1] - measured["/_server/health"][0]
    rows = [[path, f"{without:.1f}", f"{with_:.1f}", f"{100 * (with_ - without) / without:+.2f}%",
             f"{100 * front / without:.3f}%"] for path, (without, with_) in measured.items()]
    bench.table("The front's cost per request (in-process, sequential, medians)",
                ["path", "without the front, µs", "with the path rule and limits, µs", "measured difference",
                 "front's cost / request"], rows,
                f"The front costs {front:.1f} µs a request: /_server/health runs no GenroPy code, so its difference "
                "is that cost; on GenroPy's own requests it is the last column (target: under 1%), and the "
                "measured difference there is within their run-to-run noise.")


BEFORE_BODY_DEADLINES = "cd177ab"
"""The last commit before bodies got deadlines (issue 30): the flood's "before" column runs its code."""
FLOOD = 50



def index_p99(url: str, count: int) -> tuple[float, int]:
    """p99 of sequential GETs of /index (seconds) and how many failed (error or over 10 s)."""
    import httpx

    times, failed = [], 0
    with httpx.Client(timeout=10) as client:
        for _ in range(count):
            started = time.perf_counter()
            try:
                ok = client.get(url + "/index").status_code == 200
            except httpx.HTTPError:
                ok = False
            times.append(time.perf_counter() - started)
            failed += not ok
    return sorted(times)[max(0, int(len(times) * 0.99) - 1)], failed


def before_checkout() -> str | None:
    """A worktree of ``BEFORE_BODY_DEADLINES`` (``None``: no git history here)."""
    import subprocess

    folder = Path(tempfile.gettempdir()) / f"genropy-asgi-{BEFORE_BODY_DEADLINES}"
    if not folder.exists():
        made = subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(folder),
                               BEFORE_BODY_DEADLINES], capture_output=True, text=True)
        if made.returncode != 0:
            return None
    return str(folder)


def section_flood(bench: Bench) -> None:
    """/index while FLOOD clients hold a POST's body back: this code vs the code before body deadlines."""
    count = 10 if bench.smoke else 30
    contenders = {"now": {}}
    before = before_checkout()
    if before is not None:
        contenders[f"before ({BEFORE_BODY_DEADLINES})"] = {"PYTHONPATH": before}
    rows = []
    for name, env in contenders.items():
        server = bench.server(f"flood-{name.split()[0]}", [str(BIN / "gnrasgiserve"), "demo", "-p", "{port}", "-H",
                                                          "127.0.0.1", "--nodebug"], env=env)
        try:
            idle, _ = index_p99(server.base_url, count)
            held = stalled_bodies(server.port, FLOOD)
            try:
                loaded, failed = index_p99(server.base_url, count)
            finally:
                for sock in held:
                    sock.close()
        finally:
            server.stop()
        rows.append([name, f"{idle * 1000:.0f}", f"{loaded * 1000:.0f}", f"{failed}/{count}"])
    bench.table(f"/index while {FLOOD} clients stall a POST's body (sequential GETs, 16 WSGI threads)",
                ["code", "idle p99, ms", f"with {FLOOD} stalled bodies, p99 ms", "failed (error or > 10 s)"], rows,
                "Before, each stalled body took a WSGI thread as soon as its headers arrived: 16 of them took "
                "the pool and /index waited behind them. Now forms and bodies up to 1 MiB are received on the "
                "event loop first, under GENROPY_BODY_TIMEOUT / GENROPY_BODY_MIN_RATE.")


# -- page load, as a person waits for it ------------------------------------------------------

def page_contenders(bench: Bench) -> dict[str, ServerProcess]:
    """Every server of the page-load table, started once (alternated in rounds)."""
    asgi = [str(BIN / "gnrasgiserve"), "demo", "-p", "{port}", "-H", "127.0.0.1", "--nodebug"]
    servers = {"gnrasgiserve, native statics": bench.asgi(),
               "gnrasgiserve, GENROPY_STATIC=genropy": bench.server("gnrasgiserve-genropy", asgi,
                                                                    {"GENROPY_STATIC": "genropy"}),
               "gnrwsgiserve (werkzeug)": bench.wsgi()}
    for workers in (1, 2):
        for name, (argv, env) in scaling_contenders(workers).items():
            if name.startswith("image") and workers == 1:
                continue
            port = free_port()
            env = {k: v.replace("{port}", str(port)) for k, v in env.items()}
            servers[name] = bench.server(name.split(":")[0].replace(" ", "-"), argv, env, port=port)
    return servers


def through_genropy(request_urls: list[str], native: bool) -> int:
    """How many of a load's network requests GenroPy's WSGI handler answered."""
    from urllib.parse import urlsplit

    from genropy_asgi.asgi.static_rules import query_allows_native

    if not native:
        return len(request_urls)
    return sum(1 for url in request_urls
               if not (urlsplit(url).path.startswith("/_") and query_allows_native(urlsplit(url).query)))


def section_page(bench: Bench) -> None:
    """The demo's /index in headless Chromium: first visit (empty cache), then a repeat visit."""
    from genropy_asgi.testing.devtools import Chromium, chromium_path

    if chromium_path() is None:
        print("bench: page: no Chromium (apt-get install chromium): section skipped", file=sys.stderr)
        return
    # the image's build step, on this venv: .br/.gz siblings of GenroPy's own JS/CSS (idempotent)
    subprocess.run([sys.executable, "-m", "genropy_asgi.container.precompress", "--genropy"], check=True)
    servers = page_contenders(bench)
    figures: dict[str, dict[str, list[float]]] = {name: {} for name in servers}
    try:
        for server in servers.values():  # warm-up: first-use work of every server out of the figures
            with Chromium() as browser:
                browser.load(server.base_url + "/index")
        for _ in range(bench.rounds + (0 if bench.smoke else 2)):
            for name, server in servers.items():
                native = name.startswith("gnrasgiserve, native") or name.startswith("image")
                with Chromium() as browser:
                    cpu = procstats.cpu_seconds(server.pid) + procstats.cpu_seconds(bench.daemon.pid)
                    first = browser.load(server.base_url + "/index")
                    cpu_first = procstats.cpu_seconds(server.pid) + procstats.cpu_seconds(bench.daemon.pid) - cpu
                    cpu = procstats.cpu_seconds(server.pid) + procstats.cpu_seconds(bench.daemon.pid)
                    repeat = browser.load(server.base_url + "/index")
                    cpu_repeat = procstats.cpu_seconds(server.pid) + procstats.cpu_seconds(bench.daemon.pid) - cpu
                document = next(r for r in first.requests if r.kind == "Document")
                chain = first.sequential_xhr()
                steps = [b.started_ms - a.started_ms for a, b in zip(chain, chain[1:], strict=False)] or [0.0]
                for key, value in (
                        ("document ms", document.finished_ms - document.started_ms), ("xhr n", len(chain)),
                        ("xhr step ms", statistics.median(steps)),
                        ("xhr ms", statistics.median([r.finished_ms - r.started_ms for r in chain] or [0.0])),
                        ("repeat cpu ms", cpu_repeat * 1000),
                        ("first ms", first.load_ms), ("first requests", len(first.network_requests)),
                        ("first through GenroPy", through_genropy([r.url for r in first.network_requests], native)),
                        ("first KB", first.wire_bytes / 1024), ("first cpu ms", cpu_first * 1000),
                        ("failed", len([r for r in first.failures if r.url.startswith(server.base_url)])),
                        ("repeat ms", repeat.load_ms), ("repeat requests", len(repeat.network_requests))):
                    figures[name].setdefault(key, []).append(value)
    finally:
        for server in servers.values():
            server.stop()
    medians = {name: {key: statistics.median(values) for key, values in f.items()} for name, f in figures.items()}
    reference = {workers: medians[f"GenroPy serveprod: {workers} gthread worker(s)"] for workers in (1, 2)}
    rows = []
    for name, m in medians.items():
        base = reference[2 if "2 " in name.split(":")[-1] else 1]
        rows.append([name, f"{m['first ms']:.0f}", f"{m['first ms'] / base['first ms']:.2f}x",
                     f"{m['first requests']:.0f}", f"{m['first through GenroPy']:.0f}", f"{m['first KB']:.0f}",
                     f"{m['first KB'] / base['first KB']:.0%}", f"{m['first cpu ms']:.0f}",
                     f"{m['first cpu ms'] / base['first cpu ms']:.2f}x", f"{m['repeat ms']:.0f}",
                     f"{m['repeat ms'] / base['repeat ms']:.2f}x", f"{m['repeat requests']:.0f}", f"{m['failed']:.0f}"])
    bench.table("Page load: the demo's /index in headless Chromium (medians)",
                ["server", "first visit ms", "vs serveprod", "requests", "through GenroPy", "KB on the wire",
                 "vs serveprod", "server + daemon CPU ms", "vs serveprod", "repeat visit ms", "vs serveprod",
                 "repeat requests", "failed"], rows,
                "First visit: a fresh profile (empty cache); repeat: the same browser loading the page again. "
                "\"vs serveprod\": against GenroPy's serveprod with as many workers (2 for the 2-worker rows). "
                "Server + daemon CPU: the server's process tree and gnrdaemon during the first visit. "
                "Targets: first visit <= 1/3 of serveprod's, CPU <= 1/4, bytes <= 35%; repeat <= 3 requests, "
                "<= 1/2 of serveprod's time.")
    bench.table("Where a first visit's time goes (medians)",
                ["server", "page shell (GET /index) ms", "dojo's sequential XHR loads", "step between two ms",
                 "one XHR, sent to loaded ms", "server + daemon CPU of the repeat visit ms"],
                [[name, f"{m['document ms']:.0f}", f"{m['xhr n']:.0f}", f"{m['xhr step ms']:.1f}",
                  f"{m['xhr ms']:.1f}", f"{m['repeat cpu ms']:.0f}"] for name, m in medians.items()],
                "dojo 1.1's loader fetches modules one at a time (synchronous XHR, then eval): the chain's "
                "length is the browser's work per module plus one server round trip. The repeat visit's CPU "
                "is GenroPy's own page (shell and RPCs, no statics): the floor of a first visit's CPU.")


# -- 2. one process ---------------------------------------------------------------------

def section_servers(bench: Bench) -> None:
    servers = {"gnrwsgiserve (werkzeug)": bench.wsgi(), "gnrasgiserve (uvicorn)": bench.asgi(),
               "gnrasgiserve, GENROPY_REGISTER_PROXY=shared": bench.server(
                   "gnrasgiserve-shared", [str(BIN / "gnrasgiserve"), "demo", "-p", "{port}", "-H", "127.0.0.1",
                                           "--nodebug"], {"GENROPY_REGISTER_PROXY": "shared"})}
    try:
        scripts = {name: rpc_script(s.base_url) for name, s in servers.items()}
        for s in servers.values():
            wrk.run(s.base_url + "/index", 1, 1)  # warm up
        rows = []
        for target in ("/index", "RPC note_count"):
            for connections in ((1, 16) if bench.smoke else (1, 16, 64)):
                runs: dict[str, list[wrk.Load]] = {name: [] for name in servers}
                for _ in range(bench.rounds):
                    for name, s in servers.items():
                        script = scripts[name] if target.startswith("RPC") else None
                        runs[name].append(wrk.run(s.base_url + "/index", connections, bench.seconds, script))
                medians = {name: median_load(r) for name, r in runs.items()}
                base = medians["gnrwsgiserve (werkzeug)"]["rps"]
                for name, m in medians.items():
                    rows.append([target, connections, name, f"{m['rps']:.1f}", wrk.ratio(m["rps"], base),
                                 f"{m['p50']:.0f}", f"{m['p99']:.0f}", m["errors"]])
        bench.table("One process: gnrwsgiserve vs gnrasgiserve (one register connection per thread, and "
                    "GenroPy's one shared proxy)",
                    ["target", "c", "server", "req/s", "vs wsgi", "p50 ms", "p99 ms", "errors"], rows,
                    "Targets: ASGI >= WSGI on throughput, <= on p99.")
        for label, server in (("gnrasgiserve", "gnrasgiserve (uvicorn)"), ("gnrwsgiserve", "gnrwsgiserve (werkzeug)")):
            bench.memory[f"{label}, one process (after load)"] = f"{procstats.rss_mb(servers[server].pid)[0]:.0f} MB"
    finally:
        for s in servers.values():
            s.stop()


# -- 3. scaling ------------------------------------------------------------------------

def scaling_contenders(workers: int) -> dict[str, tuple[list[str], dict[str, str]]]:
    argv_env = {"GENROPY_ASGI_ARGV": json.dumps(["demo", "--nodebug"]), "GENROPY_WORKERS": str(workers),
                "GENROPY_BIND": "127.0.0.1:{port}"}
    return {
        f"image mode: gunicorn + {workers} uvicorn worker(s)": (
            [str(BIN / "gunicorn"), "-c", str(REPO / "config" / "gunicorn.conf.py"),
             "genropy_asgi.launch.app_factory:create_app()"], argv_env),
        f"GenroPy serveprod: {workers} gthread worker(s)": (
            [str(BIN / "gnr"), "web", "serveprod", "demo", "-w", str(workers), "-b", "127.0.0.1:{port}",
             "-k", "gthread", "--threads", "8"], {}),
    }


def section_scaling(bench: Bench) -> None:
    rows, cpu_rows, single = [], [], {}
    for workers in (1, 2):
        for name, (argv, env) in scaling_contenders(workers).items():
            port = free_port()
            env = {k: v.replace("{port}", str(port)) for k, v in env.items()}
            server = bench.server(name.split(":")[0].replace(" ", "-"), argv, env, port=port)
            try:
                wrk.run(server.base_url + "/index", 2, 1)
                if workers == 2 and name.startswith("image"):
                    bench.memory["gunicorn master + 2 workers"] = " + ".join(
                        f"{mb:.0f}" for mb in procstats.rss_mb(server.pid)) + " MB"
                for connections in ((16,) if bench.smoke else (1, 16, 64)):
                    cpu_server, cpu_daemon = procstats.cpu_seconds(server.pid), procstats.cpu_seconds(bench.daemon.pid)
                    loads = [wrk.run(server.base_url + "/index", connections, bench.seconds)
                             for _ in range(bench.rounds)]
                    m = median_load(loads)
                    served = max(1, m["requests"])
                    ms_server = 1000 * (procstats.cpu_seconds(server.pid) - cpu_server) / served
                    ms_daemon = 1000 * (procstats.cpu_seconds(bench.daemon.pid) - cpu_daemon) / served
                    kind = name.split(":")[0]
                    if workers == 1:
                        single[(kind, connections)] = m["rps"]
                    gain = wrk.ratio(m["rps"], single.get((kind, connections), m["rps"]))
                    rows.append([name, connections, f"{m['rps']:.1f}", gain, f"{m['p99']:.0f}", m["errors"]])
                    cpu_rows.append([name, connections, f"{ms_server:.0f}", f"{ms_daemon:.0f}"])
            finally:
                server.stop()
    bench.table("Scaling: the image's multi-worker mode vs GenroPy's serveprod (/index)",
                ["server", "c", "req/s", "vs 1 worker", "p99 ms", "errors"], rows,
                "Targets: 2 workers >= 1.5x one worker with zero errors; above serveprod at every concurrency.")
    bench.table("CPU per request (ms), server processes vs gnrdaemon", ["server", "c", "server", "gnrdaemon"],
                cpu_rows)


# -- 4. upstream genropy-asgi 0.8.0 -------------------------------------------------------

def section_upstream(bench: Bench) -> None:
    venv = HERE / "out" / "upstream-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "genropy-asgi==0.8.0"], check=True,
                       stderr=subprocess.DEVNULL)
    version = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('genropy-asgi'))"],
                             capture_output=True, text=True).stdout.strip()
    port = free_port()
    env = bench.workspace.env({"PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)})
    process = ManagedProcess([str(venv / "bin" / "gnrasgiserve"), "demo", "-p", str(port), "-H", "127.0.0.1"],
                             env, bench.root / "upstream.log")
    statuses: dict[str, int] = {}
    try:
        try:
            wait_for_port("127.0.0.1", port, 120, process.process)
            for _ in range(20):
                try:
                    code = str(httpx.get(f"http://127.0.0.1:{port}/index", timeout=30).status_code)
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                statuses[code] = statuses.get(code, 0) + 1
        except (RuntimeError, TimeoutError) as exc:
            statuses[f"did not start ({exc})"[:80]] = 1
        rate = ""
        if statuses.get("200") == 20:
            rate = f"{wrk.run(f'http://127.0.0.1:{port}/index', 16, bench.seconds).rps:.1f} req/s at c=16"
        last = [line for line in process.output().splitlines() if "Error" in line][-1:]
    finally:
        process.stop()
    bench.table("Peer: upstream genropy-asgi (separate venv)", ["version", "20 GETs of /index", "throughput", "last error"],
                [[version, ", ".join(f"{k}: {v}" for k, v in statuses.items()), rate or "n/a",
                  (last[0][:120] if last else "")]])


# -- 5. streaming ----------------------------------------------------------------------------

def section_streaming(bench: Bench) -> None:
    down_mb, up_mb = (50, 20) if bench.smoke else (500, 200)
    port = free_port()
    process = ManagedProcess([sys.executable, str(REPO / "tests" / "apps" / "gateway_app.py"), str(port)], os.environ,
                             bench.root / "streaming.log")
    try:
        wait_for_port("127.0.0.1", port, 60, process.process)
        url = f"http://127.0.0.1:{port}"
        httpx.get(url + "/big?mb=1")
        before = procstats.peak_rss_mb(process.pid)
        start, received = time.perf_counter(), 0
        with httpx.stream("GET", f"{url}/big?mb={down_mb}", timeout=300) as response:
            for chunk in response.iter_bytes(1 << 20):
                received += len(chunk)
        down_s = time.perf_counter() - start
        after_down = procstats.peak_rss_mb(process.pid)
        block = os.urandom(1 << 20)
        start = time.perf_counter()
        answer = httpx.post(url + "/upload", content=(block for _ in range(up_mb)), timeout=300).json()
        up_s = time.perf_counter() - start
        after_up = procstats.peak_rss_mb(process.pid)
    finally:
        process.stop()
    bench.table("Streaming through the gateway (a WSGI app behind WsgiGatewayMiddleware)",
                ["direction", "size", "throughput", "server peak RSS growth"],
                [["download", f"{received >> 20} MB", f"{received / 2**20 / down_s:.0f} MB/s", f"{after_down - before:.1f} MB"],
                 ["upload", f"{answer['size'] >> 20} MB", f"{answer['size'] / 2**20 / up_s:.0f} MB/s",
                  f"{after_up - after_down:.1f} MB"]],
                "Target: growth under 64 MB.")


# -- 5b. the real-time channel: /websocket relayed vs gnr web async's own socket ----------------

PING = json.dumps({"command": "ping", "lastEventAge": 0})


async def ping_rounds(connect, count: int) -> list[float]:
    """Sequential ping -> pong round trips on one connection (GenroPy's keep-alive, served
    by the async server itself), in milliseconds."""
    async with connect() as channel:
        times = []
        for _ in range(count):
            start = time.perf_counter()
            await channel.send(PING)
            assert await channel.recv() == "pong"
            times.append((time.perf_counter() - start) * 1000)
        return times


async def ping_throughput(connect, connections: int, per_connection: int) -> float:
    """Pongs per second with ``connections`` pages pinging at once."""
    start = time.perf_counter()
    await asyncio.gather(*(ping_rounds(connect, per_connection) for _ in range(connections)))
    return connections * per_connection / (time.perf_counter() - start)


def section_websocket(bench: Bench) -> None:
    from websockets.asyncio.client import connect, unix_connect

    socket_path = str(bench.workspace.instance_dir / "site" / "sockets" / "async.sock")  # a short path
    async_server = ManagedProcess([str(BIN / "gnr"), "web", "async", "demo"], bench.workspace.env(),
                                  bench.root / "async.log")
    server = None
    try:
        deadline = time.monotonic() + 120
        while not os.path.exists(socket_path):
            if time.monotonic() > deadline or async_server.process.poll() is not None:
                raise RuntimeError(f"gnr web async did not start:\n{async_server.output()[-2000:]}")
            time.sleep(0.2)
        server = bench.server("gnrasgiserve", [str(BIN / "gnrasgiserve"), "demo", "-p", "{port}", "-H",
                                               "127.0.0.1", "--nodebug"],
                              env={"GENROPY_ASYNC_SERVER": "external"}, ready_path="/_server/ready")
        # the relay admits a page's own session only (issue 30): a browser's cookie jar, as a page has
        with GenropyClient(f"http://127.0.0.1:{server.port}") as browser:
            browser.page("/index")
            session = {"Cookie": cookie_header(browser)}
        contenders = {
            "direct (Unix socket)": lambda: unix_connect(socket_path, uri="ws://localhost/websocket",
                                                         compression=None),
            "relayed (/websocket on the server's port)": lambda: connect(
                f"ws://127.0.0.1:{server.port}/websocket", compression=None, additional_headers=session),
        }
        count, connections, each = (200, 10, 20) if bench.smoke else (2000, 50, 200)
        results: dict[str, dict[str, float]] = {name: {"p50": [], "p99": [], "rate": []} for name in contenders}
        for _ in range(bench.rounds):
            for name, opener in contenders.items():
                times = sorted(asyncio.run(ping_rounds(opener, count)))
                results[name]["p50"].append(times[len(times) // 2])
                results[name]["p99"].append(times[int(len(times) * 0.99) - 1])
                results[name]["rate"].append(asyncio.run(ping_throughput(opener, connections, each)))
    finally:
        if server is not None:
            server.stop()
        async_server.stop()
    rows = []
    for name, figures in results.items():
        rows.append([name, f"{statistics.median(figures['p50']):.2f} ms", f"{statistics.median(figures['p99']):.2f} ms",
                     f"{statistics.median(figures['rate']):.0f}/s"])
    direct, relayed = (statistics.median(results[name]["rate"]) for name in contenders)
    bench.table(f"Real-time channel: ping -> pong through gnr web async ({count} sequential; "
                f"{connections} pages x {each} at once)",
                ["path", "round trip p50", "p99", "pongs/s, concurrent"], rows,
                f"Relayed throughput / direct: {relayed / direct:.2f}x. The relay adds one hop "
                "(uvicorn + the websockets client) on the same machine.")


# -- 6. container ----------------------------------------------------------------------------

def section_container(bench: Bench) -> None:
    import docker

    client = docker.from_env()
    image = os.environ.get("GENROPY_ASGI_IMAGE", "genropy-asgi:latest")
    postgres_image = os.environ.get("GENROPY_ASGI_POSTGRES_IMAGE", "genropy-asgi/postgres:17-trixie")
    rows = []
    for flavour, name in (("full", image), ("slim", image + "-slim")):
        try:
            size = client.images.get(name).attrs["Size"] / 1e6
        except docker.errors.ImageNotFound:
            rows.append([f"image size, {flavour}", "not built", name])
            continue
        rows.append([f"image size, {flavour}", f"{size:.0f} MB", name])
        volume = client.volumes.create()
        try:
            first = cold_start(client, name, postgres_image, "sqlite", volume=volume.name)
            second = cold_start(client, name, postgres_image, "sqlite", volume=volume.name)
        finally:
            volume.remove(force=True)
        rows.append([f"cold start, sqlite, {flavour}", f"{first:.1f} s",
                     "docker run -> /_server/ready 200 (gnr db setup and first-use records included)"])
        rows.append([f"second start of the same volume, sqlite, {flavour}", f"{second:.1f} s",
                     "the setup skipped: the model is unchanged"])
    if not bench.smoke:
        rows.append(["cold start, postgres, full", f"{cold_start(client, image, postgres_image, 'postgres'):.1f} s",
                     "PostgreSQL already up; docker run -> /_server/ready 200"])
    bench.table("Container", ["figure", "value", "what"], rows)


def cold_start(client, image: str, postgres_image: str, database: str, volume: str | None = None) -> float:
    network = client.networks.create(f"bench-{os.getpid()}-{database}")
    started = []
    try:
        env = {}
        if database == "postgres":
            pg = client.containers.run(postgres_image, detach=True, network=network.name, name=f"bench-pg-{os.getpid()}",
                                       environment={"POSTGRES_USER": "bench", "POSTGRES_PASSWORD": "bench-only"})
            started.append(pg)
            env = {"GNR_DB_IMPLEMENTATION": "postgres", "GNR_DB_HOST": pg.name, "GNR_DB_USER": "bench",
                   "GNR_DB_PASSWORD": "bench-only"}
            for _ in range(120):
                if pg.exec_run(["pg_isready", "-h", "127.0.0.1"]).exit_code == 0:
                    break
                time.sleep(0.5)
        t0 = time.perf_counter()
        site = client.containers.run(image, detach=True, network=network.name, environment=env,
                                     ports={"8080/tcp": ("127.0.0.1", None)},
                                     volumes={volume: {"bind": "/var/lib/genropy", "mode": "rw"}} if volume else None)
        started.append(site)
        site.reload()
        port = site.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        while time.perf_counter() - t0 < 300:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_server/ready", timeout=5).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{database}: not ready after 300 s")
    finally:
        for container in started:
            container.remove(force=True, v=True)  # the PostgreSQL image declares a VOLUME
        network.remove()


# -- 7. the scaled topology (plain docker run) ---------------------------------------------------

def spread_load(urls: list[str], connections: int, seconds: int, script: str) -> dict[str, float]:
    """wrk on every web container at once, the connections split as a balancer would."""
    import concurrent.futures

    share = max(1, connections // len(urls))
    with concurrent.futures.ThreadPoolExecutor(len(urls)) as pool:
        loads = list(pool.map(lambda url: wrk.run(url + "/index", share, seconds, script), urls))
    return {"rps": sum(load.rps for load in loads), "p99": max(load.p99 for load in loads),
            "errors": sum(load.errors for load in loads)}


def seconds_until(check, limit: float = 120) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            if check():
                return time.monotonic() - started
        except (httpx.HTTPError, AssertionError):
            pass
        time.sleep(0.1)
    return float("inf")


def section_scaled(bench: Bench) -> None:
    import docker

    from genropy_asgi.testing.client import GenropyPage
    from genropy_asgi.testing.topology import Topology

    client = docker.from_env()
    image = os.environ.get("GENROPY_ASGI_IMAGE", "genropy-asgi:latest")
    postgres_image = os.environ.get("GENROPY_ASGI_POSTGRES_IMAGE", "genropy-asgi/postgres:17-trixie")
    rows, costs = [], []
    contenders = (("single topology: 1 container, gunicorn + 2 workers", lambda t: t.single(2)),
                  ("scaled topology: 2 web containers x 1 worker, shared gnrdaemon + async", lambda t: t.scaled(2)))
    for name, build in contenders:
        topology = Topology(client, image, postgres_image)
        try:
            urls = build(topology)
            script = rpc_script(urls[0])  # scaled: that page and its cookies are valid through every web pod
            spread_load(urls, 2 * len(urls), 1, script)  # warm
            for connections in ((16,) if bench.smoke else (16, 64)):
                runs = [spread_load(urls, connections, bench.seconds, script) for _ in range(bench.rounds)]
                rows.append([name, connections, f"{statistics.median(r['rps'] for r in runs):.1f}",
                             f"{statistics.median(r['p99'] for r in runs):.0f}", sum(r["errors"] for r in runs)])
            if len(urls) > 1:
                page = GenropyPage(urls[0])
                page.rpc("login_doLogin", login=f"<GenRoBag><user>admin</user><password>{topology.admin_password}"
                         "</password></GenRoBag>::BAG", rootenv="<GenRoBag></GenRoBag>::BAG")
                web1 = topology.named("web-1")
                started = time.monotonic()
                web1.restart(timeout=60)  # out of the balancer meanwhile: the load goes to web-0
                topology.ready(web1)
                costs.append(["a web container restarted (SIGTERM, drained, started)",
                              f"{time.monotonic() - started:.1f} s until ready again", "its users keep their login"])
                topology.named("gnrdaemon").restart(timeout=30)
                waited = seconds_until(lambda: page.rpc("whoami") == "admin")
                costs.append(["gnrdaemon restarted (registers saved, restored)",
                              f"{waited:.1f} s until a logged-in page answers again", "nobody is logged out"])
        finally:
            topology.close()
    bench.table("Scaled topology vs one container (PostgreSQL, the demo page's RPC, plain docker run)",
                ["topology", "c", "req/s", "p99 ms", "errors"], rows,
                "Target: on par with one container on the same cores, zero errors. The same 2 cores serve "
                "both, so this measures the cost of the shared daemon (Pyro off loopback, one more hop); "
                "the gain is elsewhere: pods roll and move without logging anyone out, and more machines add "
                "web pods.")
    if costs:
        bench.table("What a restart costs users (scaled topology)", ["event", "cost", "sessions"], costs)


# -- 8. faults (the image under a steady load) ----------------------------------------------------

FAULT_KILLS = (("1", "gnrdaemon"), ("1", "web server"), ("2", "gunicorn master"), ("2", "gunicorn worker"),
               ("1", "async"), ("1", "task scheduler"))


def section_faults(bench: Bench) -> None:
    from genropy_asgi import settings
    from genropy_asgi.testing import faults
    from genropy_asgi.testing.containers import GenropyAsgiContainer
    from genropy_asgi.testing.load import SteadyLoad

    image = os.environ.get("GENROPY_ASGI_IMAGE", "genropy-asgi:latest")
    postgres_image = os.environ.get("GENROPY_ASGI_POSTGRES_IMAGE", "genropy-asgi/postgres:17-trixie")
    rpc, rows = "note_count", []
    kills = [k for k in FAULT_KILLS if k[1] == "gunicorn worker"] if bench.smoke else FAULT_KILLS
    for workers, program in kills:
        env = {"GENROPY_WORKERS": workers, **({"GENROPY_TASKS": "true"} if program == "task scheduler" else {})}
        with GenropyAsgiContainer(image, env=env) as site:
            outcome = faults.kill_under_load(site, program, rpc)
        rows.append([f"kill -9 {program} ({workers} worker{'s' if workers != '1' else ''})",
                     f"{outcome.seconds:.1f} s", f"{len(outcome.failed)} of {outcome.total}", outcome.summary or "-",
                     "yes"])
    if not bench.smoke:
        with GenropyAsgiContainer(image).with_postgres(image=postgres_image) as site:
            outcome = faults.restart_postgres_under_load(site, rpc)
        rows.append([f"PostgreSQL restarted (down {outcome.extra['database_down']:.1f} s)",
                     f"{outcome.seconds:.2f} s after it accepts", f"{len(outcome.failed)} of {outcome.total}",
                     outcome.summary, "yes"])
        with GenropyAsgiContainer(image, env={"GENROPY_WORKERS": "2"}) as site:
            container = site.get_wrapped_container()
            with SteadyLoad(site.get_url(), clients=4, rpc=rpc, pause=0.05) as load:
                time.sleep(2)
                stopping = time.monotonic()
                container.stop(timeout=settings.stop_grace_seconds(settings.setting("GENROPY_SHUTDOWN_TIMEOUT").default))
                took = time.monotonic() - stopping
            container.reload()
            cut = [a for a in load.failures(until=stopping) if not a.error.startswith("ConnectError")]
            rows.append(["docker stop under load (2 workers)", f"exit {container.attrs['State']['ExitCode']} "
                         f"after {took:.1f} s", f"{len(cut)} in flight cut", load.summary(), "-"])
    bench.table("Faults under a steady load (the image, SQLite unless said; 2 clients calling the demo page's RPC)",
                ["fault", "serving again after", "failed requests", "answers from the fault on", "container kept running"],
                rows, "Targets: any single program killed, the container never exits and is ready again in <= 5 s; "
                "a gunicorn worker killed: 0 failed (a request the killed worker was serving at that instant is lost: "
                "its connection resets); a stop under load: 0 in-flight requests cut; PostgreSQL "
                "restarted: ready again <= 2 s after it accepts connections. Failed requests while one process "
                "restarts are refused connections (nothing listens for those seconds); a gnrdaemon killed with -9 "
                "loses the pages opened since its last register snapshot (their RPCs answer 400: the client opens "
                "the page again). Pages that need the database answer GenroPy's 500 while PostgreSQL is down.")


# -- 9. memory ---------------------------------------------------------------------------------

def section_memory(bench: Bench) -> None:
    server = bench.asgi()
    try:
        idle = procstats.rss_mb(server.pid)[0]
    finally:
        server.stop()
    rows = [["gnrasgiserve idle (site built)", f"{idle:.0f} MB"],
            ["gnrdaemon", f"{procstats.rss_mb(bench.daemon.pid)[0]:.0f} MB"]]
    rows += [[name, value] for name, value in bench.memory.items()]
    bench.table("Memory (RSS)", ["process", "RSS"], rows)


# -- the run ----------------------------------------------------------------------------------

def environment_facts() -> list[str]:
    from importlib.metadata import version

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return [f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
            f"- machine: {os.cpu_count()} cores ({cpu}), "
            f"{round(os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30)} GiB",
            f"- python {platform.python_version()} (host), genropy {version('genropy')}, genro-asgi {version('genro-asgi')}, "
            f"uvicorn {version('uvicorn')}, a2wsgi {version('a2wsgi')}, gunicorn {version('gunicorn')}",
            "- load: wrk on the same 2 cores (it takes CPU from the servers), 127.0.0.1"]


# -- the testing module: a user's suite, per-test isolation, reuse -------------------------------

def section_testing(bench: Bench) -> None:
    """The ledger user suite (20 tests, per-test isolation) as a user runs it; what one
    isolation step costs by strategy; a reused second run."""
    import re

    sys.path.insert(0, str(REPO / "tests"))
    from projects.ledger_suite.checkout import run_pytest, user_project

    from genropy_asgi.testing.containers import GenropyAsgiContainer

    env = {"GENROPY_ASGI_POSTGRES_IMAGE": os.environ.get("GENROPY_ASGI_POSTGRES_IMAGE",
                                                         "genropy-asgi/postgres:17-trixie")}
    rows = []
    for database in ("sqlite", "postgres"):
        folder = user_project(Path(tempfile.mkdtemp(prefix="bench-suite-")), database)
        t0 = time.perf_counter()
        result = run_pytest(folder, env=env)
        wall = time.perf_counter() - t0
        passed = re.search(r"(\d+) passed", result.stdout)
        start = re.search(r"site 'ledgersite' started in ([\d.]+) s", result.stdout)
        rows.append([f"the 20-test suite, {database}", f"{wall:.1f} s",
                     f"{passed.group(1) if passed else 0} passed; the site's start {start.group(1) if start else '?'} s "
                     f"of it; Chromium and pytest's own start included"])
    steps = 3 if bench.smoke else 10
    for database in ("sqlite", "postgres"):
        site = GenropyAsgiContainer(project_dir=REPO / "tests" / "projects" / "ledger", site_name="ledgersite")
        if database == "postgres":
            site.with_postgres(image=env["GENROPY_ASGI_POSTGRES_IMAGE"])
        with site:
            site.client().page("/index").rpc("add_entry", title="kept", amount=1)
            site.snapshot_database()
            strategies = {"copy the files back" if database == "sqlite" else
                          "tables copied back (the module's)": site.restore_database}
            if database == "postgres":  # the alternative: a template database cloned per test
                name = site.site_database()["dbname"]

                def psql(*statements: str) -> None:
                    argv = ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-U", site.postgres.username, "-d", "postgres"]
                    for statement in statements:
                        argv += ["-c", statement]
                    code, output = site.postgres.get_wrapped_container().exec_run(argv)
                    assert code == 0, output

                psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
                     f'CREATE DATABASE "{name}_tpl" TEMPLATE "{name}"')
                for strategy in ("FILE_COPY", "WAL_LOG"):
                    strategies[f"template database cloned, {strategy}"] = lambda strategy=strategy: psql(
                        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                        f'CREATE DATABASE "{name}" TEMPLATE "{name}_tpl" STRATEGY {strategy}')
            for label, restore in strategies.items():
                times = []
                for _ in range(steps):
                    page = site.client().page("/index")
                    page.rpc("add_entry", title="dropped", amount=2)
                    t0 = time.perf_counter()
                    restore()
                    times.append((time.perf_counter() - t0) * 1000)
                    assert page.rpc("entry_count") == 1  # correct: only the snapshot's row
                rows.append([f"one isolation step, {database}: {label}", f"{statistics.median(times):.0f} ms",
                             f"median of {steps}, the row written since is gone"])
    folder = user_project(Path(tempfile.mkdtemp(prefix="bench-reuse-")), "postgres")
    try:
        first = run_pytest(folder, "--genropy-reuse", env=env)
        t0 = time.perf_counter()
        second = run_pytest(folder, "--genropy-reuse", env=env)
        wall = time.perf_counter() - t0
        reused = re.search(r"site 'ledgersite' (\w+) in ([\d.]+) s", second.stdout)
        rows.append(["the suite again with --genropy-reuse, postgres", f"{wall:.1f} s",
                     f"site {reused.group(1)} in {reused.group(2)} s" if reused and first.returncode == 0 else
                     "failed: " + (second.stdout or first.stdout)[-300:]])
    finally:
        import docker

        client = docker.from_env()
        for container in client.containers.list(all=True, filters={"label": "org.genropy-asgi.testing"}):
            GenropyAsgiContainer.remove_kept(client, container)
    bench.table("The testing module: a user's suite (ledger project, 20 tests, per-test isolation)",
                ["figure", "value", "what"], rows,
                "Targets: the PostgreSQL suite under 30 s; the reused start under 2 s.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="seconds-long run (CI): checks the benchmark runs")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated: " + ",".join(SECTIONS))
    options = parser.parse_args()
    sections = [s for s in options.only.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    if not wrk.available():
        print("bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    if options.smoke:
        sections = [s for s in sections if s != "upstream"]  # installs a second GenroPy: minutes
    bench = Bench(options.smoke)
    try:
        for name in sections:
            print(f"== {name}", flush=True)
            started = time.monotonic()
            globals()[f"section_{name}"](bench)
            print(f"== {name}: {time.monotonic() - started:.0f} s", flush=True)
    finally:
        bench.close()
    if options.smoke:
        target = HERE / "out" / "RESULTS-smoke.md"
    elif set(sections) != set(SECTIONS):
        target = HERE / "out" / "RESULTS-partial.md"  # bench/RESULTS.md is a complete run only
    else:
        target = HERE / "RESULTS.md"
    target.parent.mkdir(exist_ok=True)
    target.write_text("# Benchmark results\n\n" + "\n".join(environment_facts()) + "\n\n" + "\n".join(bench.report))
    print(f"wrote {target.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # a thread left by an in-process GenroPy site (the gateway section builds one) must not keep
    # the driver alive after its figures are written: CI waited on it, measured 2026-12-07
    os._exit(status)
