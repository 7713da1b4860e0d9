"""Section ``register``: where GenroPy's site register lives, measured.

1. What a request asks of the register: the calls GenroPy makes per ``/index`` and per page
   RPC, by kind, counted on the in-process register (``GENROPY_REGISTER=local``), and the cost
   of one call on each backend (in-process copy vs a Pyro round trip to gnrdaemon).
2. What it does to a server: gnrwsgiserve (gnrdaemon's register), gnrasgiserve with
   ``GENROPY_REGISTER=pyro``, ``redis`` (a local redis-server) and ``local``, and genropy-kajenn (GenroPy's own newest
   server, daemon-less, in its own venv), side by side in alternating rounds: req/s, p99,
   CPU per request of ALL the processes involved (server + gnrdaemon), memory, start time.

The ``local`` server gets a workspace of its own: on a shared one, the others would find its
register through ``sitedaemon.xml`` (GenroPy's own lookup) and stop measuring gnrdaemon.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import procstats
import wrk

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# Run in a child process (a clean interpreter: the register mode is decided once per process).
COUNT_CALLS = r"""
import collections, json, os, re, sys, time
sys.argv = ["bench"]
from werkzeug.test import EnvironBuilder
from genropy_asgi.compat import register_hosted
from genropy_asgi.launch.app_factory import choose_register
from genropy_asgi.launch.site import SiteLaunch
from genropy_asgi.testing.client import PAGE_ID

mode = choose_register()
if mode == "local":
    register_hosted.host_in_this_process()
counts = collections.Counter()
if mode in ("local", "redis"):
    from genropy_asgi.compat import register_redis
    proxy_class = register_hosted.CopyingProxy if mode == "local" else register_redis.TransactionProxy
    original = proxy_class.__getattr__
    def counting(self, name):
        counts[name] += 1
        return original(self, name)
    proxy_class.__getattr__ = counting
site = SiteLaunch([os.environ["SITE"], "--nodebug"]).build_site()
register = site.register
if mode == "pyro":  # every remote call of every proxy (the register's and its remote bags') passes here
    import Pyro4.core
    original_invoke = Pyro4.core.Proxy._pyroInvoke
    def counting_invoke(self, methodname, *args, **kwargs):
        counts[methodname] += 1
        return original_invoke(self, methodname, *args, **kwargs)
    Pyro4.core.Proxy._pyroInvoke = counting_invoke

def call(method="GET", data=None, cookie=None):
    headers = {"Cookie": cookie} if cookie else {}
    environ = EnvironBuilder(path="/index", method=method, data=data, headers=headers).get_environ()
    answer = {}
    def start(status, response_headers, exc_info=None):
        answer["cookies"] = [v.split(";")[0] for k, v in response_headers if k.lower() == "set-cookie"]
    body = b"".join(site(environ, start))
    return body.decode("utf-8", "replace"), "; ".join(answer.get("cookies", []))

shell, cookie = call()  # warm up: the first page builds caches
rounds = int(os.environ.get("ROUNDS", "20"))
counts.clear()
for _ in range(rounds):
    shell, cookie = call()
per_index = {k: v / rounds for k, v in counts.items()}
page_id = PAGE_ID.search(shell).group(1)
counts.clear()
for _ in range(rounds):
    call("POST", {"method": "note_count", "page_id": page_id}, cookie)
per_rpc = {k: v / rounds for k, v in counts.items()}
proxy = register.siteregister
timings = {}
for name, fn in (("counters", lambda: proxy.counters()),
                 ("refresh", lambda: proxy.refresh(page_id, last_user_ts=None, last_rpc_ts=None)),
                 ("get_item (page)", lambda: proxy.get_item(page_id, register_name="page"))):
    fn()
    started = time.perf_counter()
    for _ in range(rounds * 10):
        fn()
    timings[name] = (time.perf_counter() - started) / (rounds * 10) * 1e6
stats = getattr(getattr(register, "shared", None), "store", None)
stats = dict(stats.stats) if stats is not None else {}
print("REGISTER-CALLS " + json.dumps({"mode": mode, "index": per_index, "rpc": per_rpc, "us": timings,
                                      "store": stats}), flush=True)
"""


def count_calls(workspace, mode: str, rounds: int, extra: dict | None = None) -> dict:
    env = {**workspace.env(), "SITE": workspace.site_name, "GENROPY_REGISTER": mode, "ROUNDS": str(rounds),
           "GNR_LOGLEVEL": "warning", **(extra or {})}
    done = subprocess.run([sys.executable, "-c", COUNT_CALLS], env=env, capture_output=True, text=True,
                          timeout=600, cwd=str(REPO))
    if done.returncode != 0:
        raise RuntimeError(f"counting register calls ({mode}) failed:\n{done.stderr[-3000:]}")
    line = next(line for line in done.stdout.splitlines() if line.startswith("REGISTER-CALLS "))
    return json.loads(line.split(" ", 1)[1])


def section_register(bench) -> None:
    from genropy_asgi.testing.local import BIN, GnrWorkspace, RedisServerProcess, free_port

    rounds = 5 if bench.smoke else 30
    local_root = Path(tempfile.mkdtemp(prefix="genropy-bench-local-"))
    local_ws = GnrWorkspace.create(REPO / "demo", root=local_root / "ws")
    local_ws.db_setup()
    kajenn_ws = GnrWorkspace.create(REPO / "demo", root=local_root / "kajenn-ws")  # its register is its own too
    kajenn_ws.db_setup()
    redis = RedisServerProcess(local_root / "redis")
    try:
        local = count_calls(local_ws, "local", rounds)
        pyro = count_calls(bench.workspace, "pyro", rounds)
        shared = count_calls(bench.workspace, "redis", rounds, redis.env())
        rows = []
        for what in ("index", "rpc"):
            for name in sorted(set(local[what]) | set(pyro[what]), key=lambda n: -local[what].get(n, 0)):
                rows.append([{"index": "GET /index", "rpc": "RPC note_count"}[what], name,
                             f"{local[what].get(name, 0):.1f}", f"{pyro[what].get(name, 0):.1f}",
                             f"{shared[what].get(name, 0):.1f}"])
            rows.append([{"index": "GET /index", "rpc": "RPC note_count"}[what], "**all**",
                         f"{sum(local[what].values()):.1f}", f"{sum(pyro[what].values()):.1f}",
                         f"{sum(shared[what].values()):.1f}"])
        bench.table("Register calls per request, by kind (local and redis: calls on the in-process proxies; pyro: "
                    "Pyro round trips of every proxy, the register's and its remote bags')",
                    ["request", "call", "local", "pyro", "redis"], rows,
                    "The same GenroPy code makes the same calls; only their cost differs.")
        bench.table("Cost of one register call (sequential, one thread)",
                    ["call", "local µs", "pyro µs", "redis µs", "pyro / local", "pyro / redis"],
                    [[name, f"{local['us'][name]:.0f}", f"{pyro['us'][name]:.0f}", f"{shared['us'][name]:.0f}",
                      f"{pyro['us'][name] / local['us'][name]:.0f}x", f"{pyro['us'][name] / shared['us'][name]:.1f}x"]
                     for name in local["us"]],
                    "local: GenroPy's SiteRegister in the server's process, arguments and answers pickled as Pyro "
                    "would; pyro: a round trip to gnrdaemon's register process over TCP on 127.0.0.1; redis: "
                    "GenroPy's SiteRegister in the server's process on objects in redis-server (127.0.0.1), one "
                    "optimistic transaction, one round trip, per call. Redis transactions during the counting "
                    f"run: {shared.get('store', {})}.")
        servers = {
            "gnrwsgiserve (werkzeug), gnrdaemon": bench.wsgi(),
            "gnrasgiserve, GENROPY_REGISTER=pyro": bench.server(
                "gnrasgiserve-pyro", [str(BIN / "gnrasgiserve"), "demo", "-p", "{port}", "-H", "127.0.0.1",
                                      "--nodebug"], {"GENROPY_REGISTER": "pyro"}),
            "gnrasgiserve, GENROPY_REGISTER=redis": bench.server(
                "gnrasgiserve-redis", [str(BIN / "gnrasgiserve"), "demo", "-p", "{port}", "-H", "127.0.0.1",
                                       "--nodebug"], redis.env()),
        }
        port = free_port()  # the image's multi-process mode: gunicorn and its uvicorn workers, one register
        servers["gunicorn + 2 uvicorn workers, GENROPY_REGISTER=redis"] = bench.server(
            "gunicorn-redis", [str(BIN / "gunicorn"), "-c", str(REPO / "config" / "gunicorn.conf.py"),
                               "genropy_asgi.launch.app_factory:create_app()"],
            {"GENROPY_ASGI_ARGV": json.dumps(["demo", "--nodebug"]), "GENROPY_WORKERS": "2",
             "GENROPY_BIND": f"127.0.0.1:{port}", **redis.env()}, port=port)
        port = free_port()  # the same without Redis: what GENROPY_WORKERS=auto weighs (it chooses 1, local)
        servers["gunicorn + 2 uvicorn workers, GENROPY_REGISTER=pyro"] = bench.server(
            "gunicorn-pyro", [str(BIN / "gunicorn"), "-c", str(REPO / "config" / "gunicorn.conf.py"),
                              "genropy_asgi.launch.app_factory:create_app()"],
            {"GENROPY_ASGI_ARGV": json.dumps(["demo", "--nodebug"]), "GENROPY_WORKERS": "2",
             "GENROPY_REGISTER": "pyro", "GENROPY_BIND": f"127.0.0.1:{port}"}, port=port)
        started = time.monotonic()
        servers["gnrasgiserve, GENROPY_REGISTER=local"] = local_server_process(local_ws)
        startup = {"gnrasgiserve, GENROPY_REGISTER=local": time.monotonic() - started}
        started = time.monotonic()
        servers["genropy-kajenn 0.5.2"] = kajenn_process(kajenn_ws)
        startup["genropy-kajenn 0.5.2"] = time.monotonic() - started
        try:
            load_rows(bench, servers, {"pyro": bench.daemon.pid, "redis": redis.pid}, startup)
        finally:
            for s in servers.values():
                s.stop()
        browser_and_restart(bench, redis, local_root)
    finally:
        redis.stop()
        local_ws.remove()
        kajenn_ws.remove()


KAJENN = "genropy-kajenn==0.5.2"  # GenroPy's own newest server (PyPI, October 2026)
KAJENN_EXTRAS = ("pdf2image", "watchdog", "pyotp", "qrcode")  # GenroPy's optional imports, as in our venv


def kajenn_venv() -> Path:
    """bench/out/kajenn-venv: genropy-kajenn and the GenroPy we run, never in our venv (its
    ``gnr.web:daemon`` entry point takes over every GenroPy process of a venv), plus our
    genro-routes fix alone (``kajenn_routes_fix.py``: 0.5.2 cannot build a GenroPy 26.10 site
    without it). The wheelhouse first when there is one (air-gapped), else PyPI."""
    import importlib.metadata
    import shutil

    venv = HERE / "out" / "kajenn-venv"
    python = venv / "bin" / "python"
    if not (venv / "bin" / "gnrkajenn").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        wheels = REPO / "wheelhouse"
        links = ["--find-links", str(wheels)] if any(wheels.glob("*.whl")) else []
        subprocess.run([str(python), "-m", "pip", "install", "-q", *links, KAJENN,
                        f"genropy=={importlib.metadata.version('genropy')}", *KAJENN_EXTRAS], check=True)
    packages = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"],
                              capture_output=True, text=True, check=True).stdout.strip()
    shutil.copy(HERE / "kajenn_routes_fix.py", packages)
    Path(packages, "kajenn_routes_fix.pth").write_text("import kajenn_routes_fix\n")
    return venv


def kajenn_process(workspace, port: int | None = None):
    """``gnrkajenn <site>``: one commander, its self-sizing pool of forked workers, no daemon."""
    from genropy_asgi.testing.local import ServerProcess, free_port

    venv = kajenn_venv()
    port = port or free_port()
    env = {"GNR_LOGLEVEL": "warning", "VIRTUAL_ENV": str(venv),
           "GENROPY_ASGI_ROUTES_FIX": str(REPO / "genropy_asgi" / "compat" / "routes.py")}
    return ServerProcess([str(venv / "bin" / "gnrkajenn"), workspace.site_name, "-p", str(port), "-H", "127.0.0.1",
                          "--nodebug"], workspace, port, "gnrkajenn", env=env, ready_path="/index", timeout=180)


def local_server_process(workspace):
    from genropy_asgi.testing.local import BIN, ServerProcess, free_port

    port = free_port()
    return ServerProcess([str(BIN / "gnrasgiserve"), workspace.site_name, "-p", str(port), "-H", "127.0.0.1",
                          "--nodebug"], workspace, port, "gnrasgiserve-local",
                         env={"GNR_LOGLEVEL": "warning", "GENROPY_REGISTER": "local"}, ready_path="/index",
                         timeout=180)


def register_pid(name: str, shared: dict[str, int]) -> int | None:
    """The shared register process a server uses: gnrdaemon (werkzeug, pyro), redis-server (redis)."""
    if "REGISTER=redis" in name:
        return shared["redis"]
    if "REGISTER=pyro" in name or "werkzeug" in name:
        return shared["pyro"]
    return None


def load_rows(bench, servers: dict, shared: dict[str, int], startup: dict[str, float]) -> None:
    from run import median_load, rpc_script

    scripts = {name: rpc_script(s.base_url) for name, s in servers.items()}
    for s in servers.values():
        wrk.run(s.base_url + "/index", 1, 1)
    rows = []
    for target in ("/index", "RPC note_count"):
        for connections in (1, 16):
            runs: dict[str, list] = {name: [] for name in servers}
            cpu: dict[str, list[float]] = {name: [] for name in servers}
            for _ in range(bench.rounds):
                for name, s in servers.items():
                    script = scripts[name] if target.startswith("RPC") else None
                    other = register_pid(name, shared)
                    before = procstats.cpu_seconds(s.pid) + (procstats.cpu_seconds(other) if other else 0)
                    load = wrk.run(s.base_url + "/index", connections, bench.seconds, script)
                    after = procstats.cpu_seconds(s.pid) + (procstats.cpu_seconds(other) if other else 0)
                    runs[name].append(load)
                    cpu[name].append((after - before) / max(load.requests, 1) * 1000)
            medians = {name: median_load(r) for name, r in runs.items()}
            base = medians["gnrasgiserve, GENROPY_REGISTER=pyro"]["rps"]
            for name, m in medians.items():
                rows.append([target, connections, name, f"{m['rps']:.1f}", wrk.ratio(m["rps"], base),
                             f"{m['p99']:.0f}", f"{sorted(cpu[name])[len(cpu[name]) // 2]:.1f}", m["errors"]])
    bench.table("One process, by register, and GenroPy's own newest server: req/s, p99 and CPU per request of "
                "every process involved", ["target", "c", "server", "req/s", "vs pyro", "p99 ms", "CPU ms/req",
                                           "errors"], rows,
                "CPU per request: the server's process tree, plus the shared register's where the server uses "
                "one (gnrdaemon with its register process; redis-server). genropy-kajenn: its commander and its "
                "pool of forked workers.")
    memory = []
    for name, s in servers.items():
        own = sum(procstats.rss_mb(s.pid))
        other = register_pid(name, shared)
        total = own + (sum(procstats.rss_mb(other)) if other else 0)
        memory.append([name, f"{own:.0f}", f"{total:.0f}", f"{startup[name]:.1f}" if name in startup else ""])
    bench.table("Memory after the load (RSS of every process of the stack) and start to first page",
                ["server", "server MB", "with its shared register MB", "start to /index 200, s"], memory,
                "The shared register (gnrdaemon, redis-server) is counted with each server that uses it.")


def browser_and_restart(bench, redis, root: Path) -> None:
    """Each contender on a workspace of its own with a login: the first page load in headless
    Chromium (a fresh profile each time), then a user logged in, the server stopped (SIGTERM)
    and started again on the same port: does the open page still answer as that user, does a
    new page of the same browser?"""
    import secrets
    import statistics

    from genropy_asgi.testing.client import GenropyClient
    from genropy_asgi.testing.devtools import Chromium, chromium_path
    from genropy_asgi.testing.local import BIN, GnrDaemonProcess, GnrWorkspace, ServerProcess, free_port

    if chromium_path() is None:
        print("bench: register: no Chromium (apt-get install chromium): page loads skipped", file=sys.stderr)
        return
    password = "Bench-" + secrets.token_urlsafe(8)

    def workspace(name: str):
        made = GnrWorkspace.create(REPO / "demo", root=root / f"restart-{name}",
                                   xml_users={"tester": {"pwd": password, "tags": "admin,user"}})
        made.db_setup()
        return made

    def asgi(register: str, extra: dict | None = None):
        return lambda ws, port: ServerProcess(
            [str(BIN / "gnrasgiserve"), ws.site_name, "-p", str(port), "-H", "127.0.0.1", "--nodebug"], ws, port,
            f"restart-{register}", env={"GNR_LOGLEVEL": "warning", "GENROPY_REGISTER": register, **(extra or {})},
            timeout=180)

    def werkzeug(ws, port):
        return ServerProcess([str(BIN / "gnrwsgiserve"), ws.site_name, "-p", str(port), "-H", "127.0.0.1",
                              "--nodebug"], ws, port, "restart-werkzeug", env={"GNR_LOGLEVEL": "warning"},
                             timeout=180)

    contenders = {"gnrwsgiserve (werkzeug), gnrdaemon": ("daemon", werkzeug),
                  "gnrasgiserve, GENROPY_REGISTER=pyro": ("daemon", asgi("pyro")),
                  "gnrasgiserve, GENROPY_REGISTER=redis": ("redis", asgi("redis", redis.env())),
                  "gnrasgiserve, GENROPY_REGISTER=local": ("local", asgi("local")),
                  "genropy-kajenn 0.5.2": ("kajenn", lambda ws, port: kajenn_process(ws, port))}
    spaces = {kind: workspace(kind) for kind in {kind for kind, _ in contenders.values()}}
    daemon = GnrDaemonProcess(spaces["daemon"])
    rows = []
    try:
        for name, (kind, start) in contenders.items():
            ws, port = spaces[kind], free_port()
            server = start(ws, port)
            try:
                with Chromium() as browser:
                    browser.load(server.base_url + "/index")  # first-use work out of the figures
                loads = []
                for _ in range(max(2, bench.rounds)):
                    with Chromium() as browser:
                        loads.append(browser.load(server.base_url + "/index").load_ms)
                client = GenropyClient(server.base_url)
                page = client.login("tester", password)
                assert page.rpc("whoami") == "tester"
            finally:
                server.stop()
            server = start(ws, port)
            try:
                try:
                    same_page = page.rpc("whoami") or "a guest"
                except Exception as exc:
                    same_page = f"refused ({type(exc).__name__}: {str(exc)[:60]})"
                try:
                    new_page = client.page("/index").rpc("whoami") or "a guest"
                except Exception as exc:
                    new_page = f"refused ({type(exc).__name__}: {str(exc)[:60]})"
            finally:
                server.stop()
            rows.append([name, f"{statistics.median(loads):.0f}", same_page, new_page])
    finally:
        daemon.stop()
        for made in spaces.values():
            made.remove()
    bench.table("First page load in Chromium, and a login across a server restart (SIGTERM, started again)",
                ["server", "first visit ms (median)", "the open page answers as", "a new page answers as"], rows,
                "Each server on a workspace of its own; \"tester\" logged in before the restart. gnrdaemon keeps "
                "running across the web server's restart (pyro, werkzeug); redis-server too (redis); local "
                "saves and restores its register; genropy-kajenn keeps its register in its commander.")
