"""Section ``register``: where GenroPy's site register lives, measured.

1. What a request asks of the register: the calls GenroPy makes per ``/index`` and per page
   RPC, by kind, counted on the in-process register (``GENROPY_REGISTER=local``), and the cost
   of one call on each backend (in-process copy vs a Pyro round trip to gnrdaemon).
2. What it does to a server: gnrwsgiserve (gnrdaemon's register), gnrasgiserve with
   ``GENROPY_REGISTER=pyro`` and with ``local``, side by side in alternating rounds: req/s,
   p99, and CPU per request of ALL the processes involved (server + gnrdaemon).

The ``local`` server gets a workspace of its own: on a shared one, the others would find its
register through ``sitedaemon.xml`` (GenroPy's own lookup) and stop measuring gnrdaemon.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
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
if mode == "local":
    original = register_hosted.CopyingProxy.__getattr__
    def counting(self, name):
        counts[name] += 1
        return original(self, name)
    register_hosted.CopyingProxy.__getattr__ = counting
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
print("REGISTER-CALLS " + json.dumps({"mode": mode, "index": per_index, "rpc": per_rpc, "us": timings}), flush=True)
"""


def count_calls(workspace, mode: str, rounds: int) -> dict:
    env = {**workspace.env(), "SITE": workspace.site_name, "GENROPY_REGISTER": mode, "ROUNDS": str(rounds),
           "GNR_LOGLEVEL": "warning"}
    done = subprocess.run([sys.executable, "-c", COUNT_CALLS], env=env, capture_output=True, text=True,
                          timeout=600, cwd=str(REPO))
    if done.returncode != 0:
        raise RuntimeError(f"counting register calls ({mode}) failed:\n{done.stderr[-3000:]}")
    line = next(line for line in done.stdout.splitlines() if line.startswith("REGISTER-CALLS "))
    return json.loads(line.split(" ", 1)[1])


def section_register(bench) -> None:
    from genropy_asgi.testing.local import BIN, GnrWorkspace

    rounds = 5 if bench.smoke else 30
    local_root = Path(tempfile.mkdtemp(prefix="genropy-bench-local-"))
    local_ws = GnrWorkspace.create(REPO / "demo", root=local_root / "ws")
    local_ws.db_setup()
    try:
        local = count_calls(local_ws, "local", rounds)
        pyro = count_calls(bench.workspace, "pyro", rounds)
        rows = []
        for what in ("index", "rpc"):
            for name in sorted(set(local[what]) | set(pyro[what]), key=lambda n: -local[what].get(n, 0)):
                rows.append([{"index": "GET /index", "rpc": "RPC note_count"}[what], name,
                             f"{local[what].get(name, 0):.1f}", f"{pyro[what].get(name, 0):.1f}"])
            rows.append([{"index": "GET /index", "rpc": "RPC note_count"}[what], "**all**",
                         f"{sum(local[what].values()):.1f}", f"{sum(pyro[what].values()):.1f}"])
        bench.table("Register calls per request, by kind (local: calls on the in-process proxies; pyro: Pyro "
                    "round trips of every proxy, the register's and its remote bags')",
                    ["request", "call", "local", "pyro"], rows,
                    "The same GenroPy code makes the same calls; only their cost differs.")
        bench.table("Cost of one register call (sequential, one thread)", ["call", "local µs", "pyro µs", "ratio"],
                    [[name, f"{local['us'][name]:.0f}", f"{pyro['us'][name]:.0f}",
                      f"{pyro['us'][name] / local['us'][name]:.0f}x"] for name in local["us"]],
                    "local: GenroPy's SiteRegister in the server's process, arguments and answers pickled as Pyro "
                    "would; pyro: a round trip to gnrdaemon's register process over TCP on 127.0.0.1.")
        servers = {
            "gnrwsgiserve (werkzeug), gnrdaemon": bench.wsgi(),
            "gnrasgiserve, GENROPY_REGISTER=pyro": bench.server(
                "gnrasgiserve-pyro", [str(BIN / "gnrasgiserve"), "demo", "-p", "{port}", "-H", "127.0.0.1",
                                      "--nodebug"], {"GENROPY_REGISTER": "pyro"}),
        }
        local_server = local_server_process(local_ws)
        servers["gnrasgiserve, GENROPY_REGISTER=local"] = local_server
        register_pid = bench.daemon.pid
        try:
            load_rows(bench, servers, register_pid)
        finally:
            for s in servers.values():
                s.stop()
    finally:
        local_ws.remove()


def local_server_process(workspace):
    from genropy_asgi.testing.local import BIN, ServerProcess, free_port

    port = free_port()
    return ServerProcess([str(BIN / "gnrasgiserve"), workspace.site_name, "-p", str(port), "-H", "127.0.0.1",
                          "--nodebug"], workspace, port, "gnrasgiserve-local",
                         env={"GNR_LOGLEVEL": "warning", "GENROPY_REGISTER": "local"}, ready_path="/index",
                         timeout=180)


def load_rows(bench, servers: dict, daemon_pid: int) -> None:
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
                    uses_daemon = "local" not in name
                    before = procstats.cpu_seconds(s.pid) + (procstats.cpu_seconds(daemon_pid) if uses_daemon else 0)
                    load = wrk.run(s.base_url + "/index", connections, bench.seconds, script)
                    after = procstats.cpu_seconds(s.pid) + (procstats.cpu_seconds(daemon_pid) if uses_daemon else 0)
                    runs[name].append(load)
                    cpu[name].append((after - before) / max(load.requests, 1) * 1000)
            medians = {name: median_load(r) for name, r in runs.items()}
            base = medians["gnrasgiserve, GENROPY_REGISTER=pyro"]["rps"]
            for name, m in medians.items():
                rows.append([target, connections, name, f"{m['rps']:.1f}", f"{m['rps'] / base:.2f}x",
                             f"{m['p99']:.0f}", f"{sorted(cpu[name])[len(cpu[name]) // 2]:.1f}", m["errors"]])
    bench.table("One process, by register: req/s, p99 and CPU per request of every process involved",
                ["target", "c", "server", "req/s", "vs pyro", "p99 ms", "CPU ms/req", "errors"], rows,
                "CPU per request: the server's process tree plus gnrdaemon's (its register process included) "
                "where the server uses it.")
    bench.memory["gnrasgiserve, GENROPY_REGISTER=local (after load, no gnrdaemon)"] = \
        f"{sum(procstats.rss_mb(servers['gnrasgiserve, GENROPY_REGISTER=local'].pid)):.0f} MB"
