"""Which of GenroPy's programs the container runs, and where they listen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from genropy_asgi import settings
from genropy_asgi.container.sources import PlanError, flag, genropy_bool, text, whole


@dataclass(frozen=True)
class ProcessSet:
    """Which of GenroPy's programs run next to gnrdaemon and the web server."""

    async_server: bool
    tasks: bool
    task_workers: int
    scheduler_port: int


def process_set(env: Mapping[str, str], site_wsgi: Mapping[str, str]) -> ProcessSet:
    """GENROPY_ASYNC_SERVER (default: the siteconfig's wsgi websockets, else on),
    GENROPY_TASKS (default off), GENROPY_TASK_WORKERS (default 1), GNR_SCHEDULER_PORT.

    The scheduler has no authentication: in the container it listens on 127.0.0.1 only,
    so a GNR_SCHEDULER_HOST naming anything else is refused rather than ignored (the
    ``scheduler`` mode listens on GNR_SCHEDULER_BIND instead). GNR_SCHEDULER_URL names a
    scheduler elsewhere: refused with GENROPY_TASKS, which runs one here.
    """
    declared = genropy_bool(site_wsgi.get("websockets"))
    async_mode = text(env, "GENROPY_ASYNC_SERVER")
    async_server = (True if declared is None else declared) if async_mode is None else async_mode != "off"
    tasks = flag(env, "GENROPY_TASKS")
    task_workers = whole(env, "GENROPY_TASK_WORKERS")
    scheduler_port = whole(env, "GNR_SCHEDULER_PORT")
    host = env.get("GNR_SCHEDULER_HOST", "").strip()
    if host and host not in ("127.0.0.1", "localhost"):
        raise PlanError(f"GNR_SCHEDULER_HOST={host!r}: the task scheduler has no authentication and listens "
                        "on 127.0.0.1 inside the container; leave it unset")
    if tasks and env.get("GNR_SCHEDULER_URL", "").strip():
        raise PlanError("GNR_SCHEDULER_URL is set with GENROPY_TASKS: the scheduler runs in this container; "
                        "leave GNR_SCHEDULER_URL unset, or GENROPY_TASKS off to use that scheduler")
    return ProcessSet(async_server, tasks, task_workers, scheduler_port)


def check_ports(ports: Mapping[str, int]) -> None:
    """Our own programs' ports must differ (else one of them restart-loops on a taken port)."""
    seen: dict[int, str] = {}
    for name, port in ports.items():
        if port in seen:
            raise PlanError(f"{name}={port} is also {seen[port]}: every program of the container needs its own port")
        seen[port] = name


def valid_host(variable: str, host: str) -> str:
    """An IPv4/IPv6 address or a host name, else a ``PlanError`` naming ``variable``."""
    return settings.Host()(variable, host)


def listen_host(env: Mapping[str, str]) -> str:
    """GNR_WSGI_OPT_host: an IPv4/IPv6 address or a host name (default 0.0.0.0)."""
    return valid_host("GNR_WSGI_OPT_host", (env.get("GNR_WSGI_OPT_host") or "").strip() or "0.0.0.0")
