"""How many CPUs this container may use: its cgroup quota, else the CPUs it may run on.

``GENROPY_WORKERS=auto`` (the default) is that number when the site's register is shared
(``GENROPY_REGISTER=redis``: one uvicorn worker per CPU, each serving many requests at once with
its threads), else 1: without Redis, several processes would share gnrdaemon's one-thread
register, and one process on its own register serves more (the bench's ``register`` section:
``server_workers`` is that measured choice). GenroPy's own ``gnr app deploy`` writes
``cpu_count() + 1`` for its synchronous gunicorn workers, which counts the host's CPUs, not the
container's quota.

Auto never starts more workers than the container's memory limit holds (cgroup v2's
``memory.max``, ``WORKER_MEMORY`` each): a pod with no CPU limit on a 64-CPU node and 2 GiB of
memory gets 8, not 64 workers that would be killed for memory.

``cpus_from(cpu_max, affinity)``, ``workers_from(cpu_max, memory_max, affinity)`` (the text of
cgroup v2's ``cpu.max`` and ``memory.max``, the number of CPUs the process may run on) and
``server_workers(requested, register, workers)`` are pure; ``available_workers()`` reads them.
"""

from __future__ import annotations

import math
import os

from genropy_asgi.settings import AUTO_WORKERS, MAX_WORKERS

CPU_MAX = "/sys/fs/cgroup/cpu.max"  # cgroup v2: "<quota> <period>" or "max <period>"
MEMORY_MAX = "/sys/fs/cgroup/memory.max"  # cgroup v2: bytes, or "max"
WORKER_MEMORY = 256 * 2**20  # a uvicorn worker serving a GenroPy site: ~200 MB RSS (bench `register`)


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


def workers_from(cpu_max: str | None, memory_max: str | None, affinity: int) -> int:
    """``cpus_from``, at most as many workers as the memory limit holds (``WORKER_MEMORY`` each)."""
    workers = cpus_from(cpu_max, affinity)
    memory = (memory_max or "").strip()
    if memory.isascii() and memory.isdigit():
        workers = min(workers, max(1, int(memory) // WORKER_MEMORY))
    return workers


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except (OSError, ValueError):
        return None


def available_workers() -> int:
    """What ``GENROPY_WORKERS=auto`` may start here: CPUs of the quota, within the memory limit."""
    return workers_from(read_text(CPU_MAX), read_text(MEMORY_MAX), len(os.sched_getaffinity(0)))


def server_workers(requested: int, register: str | None, available: int) -> int:
    """The server processes for ``GENROPY_WORKERS`` (``AUTO_WORKERS``: auto) and ``GENROPY_REGISTER``:
    a number asked is kept; auto is ``available`` (``available_workers()``, at most ``MAX_WORKERS``)
    with the register in Redis, else 1."""
    if requested != AUTO_WORKERS:
        return requested
    return min(available, MAX_WORKERS) if register == "redis" else 1
