"""Section ``data_api``: the data bridge against GenroPy's own way to the same records.

One gnrasgiserve on the depot test project (SQLite, 240 products, GENROPY_DATA_API=read):
100 records through ``GET /_data/tables/depot.product/records?_limit=100`` against the same
100 through the depot page's ``products`` RPC, alternated in rounds (req/s, p50/p99, server
CPU per request); an MCP ``tools/call`` query's latency; the change stream's latency (a page RPC
commits, a subscriber receives the update); the database handles the server holds before and
after every request of the section; and on PostgreSQL (a throwaway cluster, scripts/test-postgres),
the server's connections to its database before, during and after 10,000 REST requests.
Targets: REST >= 3x the RPC's rate; a change within 1 s; no connection kept.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import httpx
import procstats
import wrk

from genropy_asgi.data_api.change_feed import POLL_SECONDS
from genropy_asgi.testing.local import BIN, GnrWorkspace, ServerProcess, free_port

REPO = Path(__file__).resolve().parent.parent
DEPOT = REPO / "tests" / "projects" / "depot"
USER, PASSWORD = "bench", "Bench-pw-1"


def open_handles(pid: int, name: str) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += name in str(fd.readlink())
        except OSError:
            pass
    return count


def rpc_script(base_url: str) -> str:
    from genropy_asgi.testing.client import GenropyPage

    page = GenropyPage(base_url)
    cookie = "; ".join(f"{name}={value}" for name, value in page.client.cookies.items())
    page.rpc("products", limit="100")  # answers once before the load
    return wrk.post_script(f"method=products&limit=100&page_id={page.page_id}", cookie)


def mcp_latency_ms(base_url: str, authorization: str, calls: int) -> tuple[float, float]:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": "query_table", "arguments": {"table": "depot.product", "limit": 100}}}
    timings = []
    with httpx.Client(headers={"Authorization": authorization, "Content-Type": "application/json",
                               "Accept": "application/json, text/event-stream"}, timeout=30) as client:
        for _ in range(calls):
            started = time.perf_counter()
            answer = client.post(f"{base_url}/_data/mcp", content=json.dumps(message))
            timings.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200 and not answer.json()["result"]["isError"], answer.text
    timings.sort()
    return statistics.median(timings), timings[max(0, int(len(timings) * 0.99) - 1)]


def change_latency_ms(base_url: str, authorization: str, changes: int) -> list[float]:
    """From a page RPC's request (which commits an update) to the subscriber's event, each."""
    from genropy_asgi.testing.client import GenropyPage

    arrivals: queue.Queue = queue.Queue()

    def listen() -> None:
        with httpx.stream("GET", f"{base_url}/_data/tables/depot.product/changes",
                          headers={"Authorization": authorization}, timeout=httpx.Timeout(30, read=None)) as events:
            for line in events.iter_lines():
                if line.startswith("event: "):
                    arrivals.put((time.perf_counter(), line[len("event: "):]))

    threading.Thread(target=listen, daemon=True).start()  # ends with the server
    assert arrivals.get(timeout=30)[1] == "ready"
    page = GenropyPage(base_url)
    timings = []
    for n in range(changes):
        started = time.perf_counter()
        page.rpc("set_quantity", code="P1", quantity=n + 1)
        arrived, event = arrivals.get(timeout=10)
        assert event == "update", event
        timings.append((arrived - started) * 1000)
    return sorted(timings)


def pg_count(dsn: str, statement: str) -> int:
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement)
            return int(cursor.fetchone()[0])
    finally:
        conn.close()


def postgres_connections(bench, requests: int) -> str:
    """``requests`` REST list requests (8 clients) against the depot on PostgreSQL: the server's
    backends on its database before, at most during, and after. One sentence for RESULTS.md."""
    parent = Path(tempfile.mkdtemp(prefix="genropy-bench-pg-"))
    parent.chmod(0o755)  # run as root, the cluster belongs to the postgres user: it must reach its folder
    folder, port = parent / "pg", free_port()
    env = {**os.environ, "GENROPY_ASGI_PG_DIR": str(folder), "GENROPY_ASGI_PG_PORT": str(port)}
    started = subprocess.run([str(REPO / "scripts" / "test-postgres"), "start"], env=env, capture_output=True,
                             text=True, timeout=180)
    if started.returncode != 0:
        return f"PostgreSQL: not measured ({started.stderr.strip()[-200:]})."
    dsn = started.stdout.strip()
    address = urlparse(dsn)
    workspace = server = None
    try:
        workspace = GnrWorkspace.create(DEPOT, root=bench.root / "depot-pg", site_name="depotsite",
                                        xml_users={USER: {"pwd": PASSWORD, "tags": "user"}},
                                        db_override={"implementation": "postgres", "host": address.hostname,
                                            "port": str(address.port), "user": address.username,
                                            "password": address.password})
        workspace.db_setup()
        subprocess.run([str(BIN / "python"), str(workspace.project_dir / "seed.py"), workspace.site_name, "237"],
                       env=workspace.env(), check=True, capture_output=True, timeout=300)
        server_port = free_port()
        server = ServerProcess([str(BIN / "gnrasgiserve"), "depotsite", "-p", str(server_port), "-H", "127.0.0.1",
                                "--nodebug"], workspace, server_port, "data-api-pg",
                               env={"GNR_LOGLEVEL": "warning", "GENROPY_DATA_API": "read"}, timeout=180)
        count = "SELECT count(*) FROM pg_stat_activity WHERE datname = 'depot'"
        url = f"{server.base_url}/_data/tables/depot.product/records?_limit=100&_order=code"
        httpx.get(url, auth=(USER, PASSWORD), timeout=30).raise_for_status()
        time.sleep(1)
        before, peak, failed = pg_count(dsn, count), [0], [0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                peak[0] = max(peak[0], pg_count(dsn, count))

        def client(share: int) -> None:
            with httpx.Client(auth=(USER, PASSWORD), timeout=60) as http:
                for _ in range(share):
                    failed[0] += http.get(url).status_code != 200

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        began = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(client, [requests // 8] * 8))
        took = time.perf_counter() - began
        done.set()
        sampler.join()
        time.sleep(1)
        after = pg_count(dsn, count)
        return (f"PostgreSQL: {requests // 8 * 8} REST list requests (100 records, 8 clients, {took:.0f} s, "
                f"{failed[0]} not 200): the server's connections to its database {before} before, at most "
                f"{peak[0]} during, {after} after.")
    finally:
        if server is not None:
            server.stop()
        if workspace is not None:
            workspace.remove()
        subprocess.run([str(REPO / "scripts" / "test-postgres"), "stop"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(parent, ignore_errors=True)


def section_data_api(bench) -> None:
    workspace = GnrWorkspace.create(DEPOT, root=bench.root / "depot", site_name="depotsite",
                                    xml_users={USER: {"pwd": PASSWORD, "tags": "user"}})
    workspace.db_setup()
    subprocess.run([str(BIN / "python"), str(workspace.project_dir / "seed.py"),
                    workspace.site_name, "237"], env=workspace.env(), check=True, capture_output=True, timeout=300)
    port = free_port()
    server = ServerProcess([str(BIN / "gnrasgiserve"), "depotsite", "-p",
                            str(port), "-H", "127.0.0.1", "--nodebug"], workspace, port, "data-api",
                           env={"GNR_LOGLEVEL": "warning", "GENROPY_DATA_API": "read"}, timeout=180)
    authorization = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    try:
        rest_url = f"{server.base_url}/_data/tables/depot.product/records?_limit=100&_order=code"
        first = httpx.get(rest_url, headers={"Authorization": authorization}, timeout=30).json()
        assert len(first["rows"]) == 100, first
        contenders = {"REST (data bridge)": (rest_url, wrk.header_script({"Authorization": authorization})),
                      "page RPC (GenroPy)": (server.base_url + "/index", rpc_script(server.base_url))}
        database_files = str(workspace.instance_dir)  # the SQLite files (not the server's log)
        handles_before = open_handles(server.pid, database_files)
        peak = [0]
        sampling = threading.Event()

        def sample() -> None:  # the probe sees the connections in use (so its idle zero means closed)
            while not sampling.wait(0.2):
                peak[0] = max(peak[0], open_handles(server.pid, database_files))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        rows = []
        for connections in ((1, 16) if bench.smoke else (1, 16, 64)):
            runs: dict[str, list[wrk.Load]] = {name: [] for name in contenders}
            cpu: dict[str, list[float]] = {name: [] for name in contenders}
            for _ in range(bench.rounds):
                for name, (url, script) in contenders.items():
                    spent = procstats.cpu_seconds(server.pid)
                    load = wrk.run(url, connections, bench.seconds, script)
                    runs[name].append(load)
                    cpu[name].append((procstats.cpu_seconds(server.pid) - spent) * 1000 / max(1, load.requests))
            base = statistics.median(r.rps for r in runs["page RPC (GenroPy)"])
            for name, loads in runs.items():
                rps = statistics.median(r.rps for r in loads)
                rows.append([connections, name, f"{rps:.1f}", wrk.ratio(rps, base),
                             f"{statistics.median(r.p50 for r in loads):.0f}",
                             f"{statistics.median(r.p99 for r in loads):.0f}",
                             f"{statistics.median(cpu[name]):.1f}", sum(r.errors for r in loads)])
        sampling.set()
        sampler.join()
        time.sleep(3)  # the requests still queued when wrk stopped are answered
        handles_after = open_handles(server.pid, database_files)
        median_ms, p99_ms = mcp_latency_ms(server.base_url, authorization, 20 if bench.smoke else 200)
        changes = change_latency_ms(server.base_url, authorization, 10 if bench.smoke else 50)
        server.stop()
        on_postgres = postgres_connections(bench, 400 if bench.smoke else 10_000)
        bench.table("Data bridge: 100 records through REST vs the same through a GenroPy page RPC (one process)",
                    ["c", "way", "req/s", "vs RPC", "p50 ms", "p99 ms", "server CPU ms/req", "errors"], rows,
                    f"Target: REST >= 3x the RPC's rate. MCP `tools/call` (query_table, 100 records), sequential: "
                    f"median {median_ms:.1f} ms, p99 {p99_ms:.1f} ms. Change stream, from a page RPC that commits an "
                    f"update to the subscriber's event ({len(changes)} changes, the feed collects every "
                    f"{POLL_SECONDS:g} s; target 1 s): median {statistics.median(changes):.0f} ms, "
                    f"max {changes[-1]:.0f} ms. Database file handles held by the server, idle: "
                    f"{handles_before} before the load, at most {peak[0]} during it, {handles_after} after its requests. "
                    + on_postgres)
    finally:
        server.stop()
        workspace.remove()
