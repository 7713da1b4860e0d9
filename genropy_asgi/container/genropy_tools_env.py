"""GenroPy's own container tools' variables, honoured through ours or refused: never ignored.

``gnr app dockerize`` (``GNR_ROOTPWD``), ``gnr web k8s`` (``GNR_EXTERNALHOST``,
``GNR_GUNICORN_BIND``) and ``gnr web serveprod`` (every ``GNR_GUNICORN_<option>`` becomes a
gunicorn option) configure GenroPy's images with these. A project moving here keeps its
variables: each one either maps onto our setting (ours wins when both are given, said in a
note) or stops the start with one line naming what to use instead.

Pure: ``translated(env)`` returns the environment the plan reads, and the notes to print.
"""

from __future__ import annotations

from collections.abc import Mapping

from genropy_asgi.container.sources import PlanError
from genropy_asgi.container.topology import LOOPBACK

# theirs -> ours (the value means the same thing)
HONOURED = {
    "GNR_ROOTPWD": "GNR_ADMIN_PASSWORD",  # dockerize: the password of GenroPy's admin user
    "GNR_ROOTPWD_FILE": "GNR_ADMIN_PASSWORD_FILE",
    "GNR_GUNICORN_WORKERS": "GENROPY_WORKERS",
    "GNR_GUNICORN_THREADS": "GENROPY_WSGI_THREADS",
    "GNR_GUNICORN_GRACEFUL_TIMEOUT": "GENROPY_SHUTDOWN_TIMEOUT",
    "GNR_GUNICORN_MAX_REQUESTS": "GENROPY_MAX_REQUESTS",
    "GNR_GUNICORN_MAX_REQUESTS_JITTER": "GENROPY_MAX_REQUESTS_JITTER",
    "GNR_EXTERNALHOST": "GENROPY_EXTERNAL_HOST",  # k8s: the site's public URL (wsgi external_host)
}
DAEMON_HOST, DAEMON_KEY = "GNR_DAEMON_HOST", "GNR_DAEMON_HMAC_KEY"
BIND = "GNR_GUNICORN_BIND"  # host or host:port -> GNR_WSGI_OPT_host / GNR_WSGI_OPT_port
GUNICORN_PREFIX = "GNR_GUNICORN_"
# gunicorn options that change nothing here (ours has the same behaviour built in)
HARMLESS = {"GNR_GUNICORN_WORKER_CLASS": "the workers are always uvicorn's (ASGI)"}


def _given(env: Mapping[str, str], name: str) -> bool:
    return bool((env.get(name) or "").strip())


def translated(env: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """``env`` with GenroPy's tool variables moved onto ours (theirs removed, so none reaches
    the programs: ``GNR_ROOTPWD`` is a secret), and one note per variable honoured.
    ``PlanError`` (one line) for a ``GNR_GUNICORN_*`` option we have no equivalent of."""
    result = dict(env)
    notes: list[str] = []
    for theirs, ours in HONOURED.items():
        if theirs not in result:
            continue
        value = result.pop(theirs)
        if not value.strip():
            continue
        notes.append(_adopt(result, f"{theirs} (GenroPy's container tools)", ours, value))  # may be a secret
    if BIND in result:
        notes += _bind(result, result.pop(BIND).strip())
    daemon_host = (result.get(DAEMON_HOST) or "").strip()
    if daemon_host in LOOPBACK and not (_given(result, DAEMON_KEY) or _given(result, f"{DAEMON_KEY}_FILE")):
        result.pop(DAEMON_HOST)  # GenroPy's tools mean the container's own daemon: ours runs there anyway
        notes.append(f"{DAEMON_HOST}={daemon_host} (as GenroPy's container tools set it): the container's own "
                     "gnrdaemon, on loopback; a shared one is another host, with GNR_DAEMON_HMAC_KEY")
    for name in sorted(name for name in result if name.startswith(GUNICORN_PREFIX)):
        if name in HARMLESS:
            result.pop(name)
            notes.append(f"{name} ignored: {HARMLESS[name]}")
            continue
        option = name[len(GUNICORN_PREFIX):].lower().replace("_", "-")
        raise PlanError(f"{name}: GenroPy's gunicorn option {option!r} has no equivalent here; remove it "
                        "(ours: GENROPY_WORKERS, GENROPY_WSGI_THREADS, GENROPY_SHUTDOWN_TIMEOUT, GENROPY_MAX_REQUESTS, "
                        "GNR_WSGI_OPT_host/port; docs/moving-from-genropy.md)")
    return result, notes


def _bind(env: dict[str, str], value: str) -> list[str]:
    if not value:
        return []
    host, _, port = value.rpartition(":") if value.count(":") == 1 or value.startswith("[") else ("", "", "")
    host = host.strip("[]") if host else value.strip("[]")
    notes = []
    for ours, given in (("GNR_WSGI_OPT_host", host), ("GNR_WSGI_OPT_port", port)):
        if not given:
            continue
        notes.append(_adopt(env, BIND, ours, given, shown=f"={given}"))
    return notes


def _adopt(env: dict[str, str], theirs: str, ours: str, value: str, shown: str = "") -> str:
    """Set ``ours`` to ``value`` unless it is already given; the note saying which happened."""
    if _given(env, ours):
        return f"{theirs} is set, and so is {ours}: {ours} wins"
    env[ours] = value
    return f"{theirs} read as {ours}{shown}"
