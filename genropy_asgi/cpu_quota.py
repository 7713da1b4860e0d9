"""How many CPUs this container may use: its cgroup quota, else the CPUs it may run on.

``GENROPY_WORKERS=auto`` (the default) is that number when the site's register is shared
(``GENROPY_REGISTER=redis``: one uvicorn worker per CPU, each serving many requests at once with
its threads), else 1: without Redis, several processes would share gnrdaemon's one-thread
register, and one process on its own register serves more (the bench's ``register`` section:
``server_workers`` is that measured choice). GenroPy's own ``gnr app deploy`` writes
``cpu_count() + 1`` for its synchronous gunicorn workers, which counts the host's CPUs, not the
container's quota.

``cpus_from(cpu_max, affinity)`` (the text of cgroup v2's ``cpu.max``, the number of CPUs the
process may run on) and ``server_workers(requested, register, cpus)`` are pure;
``available_cpus()`` reads the first two.
"""

from __future__ import annotations

import math
import os

from genropy_asgi.settings import AUTO_WORKERS, MAX_WORKERS

CPU_MAX = "/sys/fs/cgroup/cpu.max"  # cgroup v2: "<quota> <period>" or "max <period>"


def cpus_from(cpu_max: str | None, affinity: int) -> int:
    """The quota rounded up (a 1.5-CPU limit: 2 workers), never more than ``affinity``, at least 1."""
    limit = affinity
    fields = (cpu_max or "").split()
    if len(fields) == 2 and fields[0] != "max":
        try:
            quota, period = int(fields[0]), int(fields[1])
        except ValueError:
            quota, period = 0, 0
        if quota > 0 and period > 0:
            limit = min(limit, math.ceil(quota / period))
    return max(1, limit)


def available_cpus() -> int:
    try:
        with open(CPU_MAX, encoding="ascii") as handle:
            cpu_max: str | None = handle.read()
    except OSError:
        cpu_max = None
    return cpus_from(cpu_max, len(os.sched_getaffinity(0)))


def server_workers(requested: int, register: str | None, cpus: int) -> int:
    """The server processes for ``GENROPY_WORKERS`` (``AUTO_WORKERS``: auto) and ``GENROPY_REGISTER``:
    a number asked is kept; auto is ``cpus`` (at most ``MAX_WORKERS``) with the register in Redis,
    else 1."""
    if requested != AUTO_WORKERS:
        return requested
    return min(cpus, MAX_WORKERS) if register == "redis" else 1
