"""Where this container's programs find gnrdaemon and the task scheduler: here, or shared.

One container (``serve`` alone) runs the whole process set with its own gnrdaemon on
127.0.0.1. Scaled out, gnrdaemon is one shared workload (mode ``daemon``, listening
on ``GNR_DAEMON_BIND``), web pods use it (``GNR_DAEMON_HOST``), and so do the
``scheduler`` and ``taskworker`` workloads. Pyro unpickles what it receives: off
loopback the HMAC key is mandatory and must be the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from genropy_asgi.container.processes import valid_host
from genropy_asgi.container.sources import PlanError, given, text

LOOPBACK = ("127.0.0.1", "localhost", "::1")
SHARED_DAEMON_MODES = ("taskworker",)  # programs that need a shared register (gnrdaemon's, or Redis) and run alone


@dataclass(frozen=True)
class Placement:
    daemon_host: str  # environment.xml's <gnrdaemon host>: where it listens (here) or is reached
    own_daemon: bool  # a gnrdaemon runs in this container (supervisord's, or mode daemon itself)
    scheduler_url: str  # where the task scheduler is reached ("" : this container's, on 127.0.0.1)
    scheduler_bind: str  # where mode scheduler listens
    shared: bool = False  # the programs use a gnrdaemon running elsewhere (GNR_DAEMON_HOST)


def placement(env: Mapping[str, str], mode: str, hmac_key_given: bool) -> Placement:
    remote = (text(env, "GNR_DAEMON_HOST") or "").strip()
    bind = (given(env, "GNR_DAEMON_BIND") or "127.0.0.1").strip()
    key_advice = ("GNR_DAEMON_HMAC_KEY (or GNR_DAEMON_HMAC_KEY_FILE), the same for the daemon and all its "
                  "clients (Pyro unpickles what it receives: without a shared key anyone reaching the port "
                  "runs code)")
    if remote:
        valid_host("GNR_DAEMON_HOST", remote)
    valid_host("GNR_DAEMON_BIND", bind)
    if mode == "daemon":
        if remote:
            raise PlanError(f"GNR_DAEMON_HOST={remote!r} is set for mode daemon: the daemon listens on "
                            "GNR_DAEMON_BIND; GNR_DAEMON_HOST is for its clients")
        if bind not in LOOPBACK and not hmac_key_given:
            raise PlanError(f"GNR_DAEMON_BIND={bind!r}: gnrdaemon off loopback needs {key_advice}")
    elif remote and not hmac_key_given:
        raise PlanError(f"GNR_DAEMON_HOST={remote!r}: a shared gnrdaemon needs {key_advice}")
    elif not remote and mode in SHARED_DAEMON_MODES and text(env, "GENROPY_REGISTER") != "redis":
        raise PlanError(f"mode {mode} runs alone and needs the site's shared register: set GNR_DAEMON_HOST "
                        "(and GNR_DAEMON_HMAC_KEY), or GENROPY_REGISTER=redis")
    scheduler_url = (text(env, "GNR_SCHEDULER_URL") or "").strip()
    if mode == "taskworker" and not scheduler_url:
        raise PlanError("mode taskworker needs GNR_SCHEDULER_URL: where the scheduler workload listens "
                        "(for example http://scheduler:14951)")
    if scheduler_url and not scheduler_url.startswith(("http://", "https://")):
        raise PlanError(f"GNR_SCHEDULER_URL={scheduler_url!r}: expected an http:// URL")
    scheduler_bind = (given(env, "GNR_SCHEDULER_BIND") or "127.0.0.1").strip()
    valid_host("GNR_SCHEDULER_BIND", scheduler_bind)
    if mode == "daemon":
        return Placement(bind, True, scheduler_url, scheduler_bind)
    if remote:
        return Placement(remote, False, scheduler_url, scheduler_bind, shared=True)
    return Placement("127.0.0.1", mode == "serve", scheduler_url, scheduler_bind)


def register_placement(env: Mapping[str, str], mode: str, workers: int, where: Placement, keyed: bool = False) -> str:
    """``GENROPY_REGISTER``: ``local`` (the site's register in the web server's one process,
    reached by the container's other programs through ``sitedaemon.xml``) where one server
    process serves alone; ``redis`` when asked (the register's state in Redis or Valkey, for any
    number of processes and pods: needs its URL and the site's HMAC key, which signs every value
    and must be the same in every container); else ``pyro`` (gnrdaemon's register)."""
    asked = text(env, "GENROPY_REGISTER")
    alone = mode == "serve" and workers == 1 and not where.shared
    if asked == "local" and not alone:
        reason = (f"GENROPY_WORKERS={workers}" if workers > 1 else
                  "GNR_DAEMON_HOST (a shared gnrdaemon)" if where.shared else f"mode {mode}")
        raise PlanError(f"GENROPY_REGISTER=local keeps the register in the one web server process: not with "
                        f"{reason}; set GENROPY_REGISTER=redis or pyro")
    if asked == "redis":
        if not (env.get("GENROPY_REDIS_URL") or env.get("GENROPY_REDIS_URL_FILE")):
            raise PlanError("GENROPY_REGISTER=redis needs GENROPY_REDIS_URL (redis://HOST:6379/0, rediss:// for TLS)")
        if not keyed:
            raise PlanError("GENROPY_REGISTER=redis signs the register's values with GNR_DAEMON_HMAC_KEY: set it, "
                            "the same in every container of the site")
    return asked or ("local" if alone else "pyro")
