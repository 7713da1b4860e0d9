"""Section ``scaleout``: web containers added one by one around ONE shared register.

Plain ``docker run`` (``genropy_asgi.testing.topology``): PostgreSQL, the shared ``gnr web
async``, three web containers each limited to ``CPUS`` of a CPU, and the shared register:
gnrdaemon (``GENROPY_REGISTER=pyro``, the scaled topology until now) or Valkey
(``GENROPY_REGISTER=redis``). ``/index`` is loaded through 1, then 2, then 3 of the web
containers (a balancer's share each); the shared register's own CPU (its container's cgroup)
is divided by the requests served. That cost is the cluster's ceiling: gnrdaemon answers on
one thread, Valkey on one thread too, so neither can serve more than 1000 ms / (its ms per
request) requests a second, however many web pods there are.
"""

from __future__ import annotations

import concurrent.futures
import os
import statistics
import time
import urllib.request

import wrk

CPUS = 0.3  # each web container's share of a CPU (docker run --cpus)
WEB = 3
CONNECTIONS_PER_WEB = 4


def cgroup_cpu_seconds(container) -> float:
    """CPU time of everything in the container (its cgroup's ``usage_usec``)."""
    found = container.exec_run(["cat", "/sys/fs/cgroup/cpu.stat"]).output.decode()
    for line in found.splitlines():
        if line.startswith("usage_usec "):
            return int(line.split()[1]) / 1e6
    stats = container.stats(stream=False)  # cgroup v1
    return stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9


def warm(urls: list[str], limit: float = 120) -> None:
    """GET /index from every container until each answers 200: a container limited to a
    fraction of a CPU builds its first page slowly, and a load started before that
    measures the warm-up, not the topology."""
    deadline = time.monotonic() + limit
    for url in urls:
        for _ in range(3):
            while True:
                try:
                    with urllib.request.urlopen(url + "/index", timeout=30) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url}/index never answered 200 within {limit:.0f} s")
                time.sleep(0.5)


def load(urls: list[str], seconds: int) -> dict[str, float]:
    with concurrent.futures.ThreadPoolExecutor(len(urls)) as pool:
        loads = list(pool.map(lambda url: wrk.run(url + "/index", CONNECTIONS_PER_WEB, seconds), urls))
    return {"rps": sum(x.rps for x in loads), "p99": max(x.p99 for x in loads),
            "errors": sum(x.errors for x in loads), "requests": sum(x.requests for x in loads)}


def section_scaleout(bench) -> None:
    import docker

    from genropy_asgi.testing.topology import Topology

    client = docker.from_env()
    image = os.environ.get("GENROPY_ASGI_IMAGE", "genropy-asgi:latest")
    postgres_image = os.environ.get("GENROPY_ASGI_POSTGRES_IMAGE", "genropy-asgi/postgres:17-trixie")
    rows, ceilings = [], []
    for register, shared_role in (("pyro", "gnrdaemon"), ("redis", "valkey")):
        topology = Topology(client, image, postgres_image)
        try:
            urls = topology.scaled(WEB, register=register, cpus=CPUS)
            shared = topology.named(shared_role)
            warm(urls)
            seconds = max(bench.seconds, 5)  # a 0.3-CPU container serves a handful of pages a second
            first = None
            costs = []
            for count in range(1, WEB + 1):
                runs = []
                for _ in range(bench.rounds):
                    before = cgroup_cpu_seconds(shared)
                    measured = load(urls[:count], seconds)
                    measured["register_ms"] = (cgroup_cpu_seconds(shared) - before) / max(measured["requests"], 1) * 1e3
                    runs.append(measured)
                rps = statistics.median(r["rps"] for r in runs)
                cost = statistics.median(r["register_ms"] for r in runs)
                costs.append(cost)
                first = first or rps
                rows.append([f"{shared_role} ({register})", count, f"{rps:.1f}", wrk.ratio(rps, first),
                             f"{statistics.median(r['p99'] for r in runs):.0f}", sum(r["errors"] for r in runs),
                             f"{cost:.2f}"])
            cost = statistics.median(costs)
            ceilings.append([f"{shared_role} ({register})", f"{cost:.2f}", f"{1000 / cost:.0f}" if cost else "∞"])
        finally:
            topology.close()
    bench.table(f"Adding web containers ({CPUS:g} CPU each) around one shared register: /index, "
                f"{CONNECTIONS_PER_WEB} connections per container", ["shared register", "web containers", "req/s",
                                                                      "vs one", "p99 ms", "errors",
                                                                      "register CPU ms/req"], rows,
                "Target: 1 -> 3 containers >= 2.7x with the register in Valkey. The machine has 2 cores for "
                "everything (web containers, PostgreSQL, async, the register, wrk).")
    pyro_cost = float(ceilings[0][1]) if ceilings else 0
    redis_cost = float(ceilings[1][1]) if len(ceilings) > 1 else 0
    bench.table("The cluster's ceiling: the shared register's CPU per /index, and what one thread of it can serve",
                ["shared register", "CPU ms per /index", "ceiling, /index per second"], ceilings,
                f"Target: the shared register's cost <= 1/10 of gnrdaemon's (ceiling >= 10x). Measured: "
                f"{wrk.ratio(pyro_cost, redis_cost, 'n/a (no Valkey CPU measured)')} less CPU per request in Valkey.")
