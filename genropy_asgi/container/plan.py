"""The container's decisions, as one pure function: environment + mounted files -> plan.

``make_plan(env, files, args)`` reads nothing itself: ``files`` answers the content
of a path (``None`` when absent, ``OSError`` when unreadable) and lists folders, so
the whole decision is testable without a container. The plan says which GenroPy
config files to write, which command to run, with which environment, and which
values are secrets (masked by ``print-config``, stripped from the children's env).

Every bad input is a ``PlanError`` whose message is the one line to print: it names
the variable or file and what was expected.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets as secrets_module
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from genropy_asgi import settings
from genropy_asgi.container import genropy_tools_env
from genropy_asgi.container.admin_login import admin_login, instance_xml_users, renamed_note
from genropy_asgi.container.backup_rules import BackupError, BackupSettings, parse_destination
from genropy_asgi.container.database_plan import DbTarget, database_attributes, remote_databases
from genropy_asgi.container.processes import ProcessSet, check_ports, listen_host, process_set
from genropy_asgi.container.read_only_project import shadow_path, shadow_roots
from genropy_asgi.container.sources import (
    DiskFiles,
    FileSource,
    PlanError,
    Secrets,
    check_site,
    flag,
    genropy_bool,
    given,
    instance_config,
    instance_path,
    missing_root_py,
    mounted_siteconfig,
    project_root,
    seconds,
    site_extra_from,
    text,
    whole,
)
from genropy_asgi.container.topology import Placement, placement, register_placement
from genropy_asgi.cpu_quota import available_workers, server_workers
from genropy_asgi.launch.gnrconfig import GnrSetup, external_secret_for, password_entry, render_config_folder

__all__ = ["DbTarget", "DiskFiles", "LaunchPlan", "PlanError", "make_plan", "unprivileged_uid", "IMAGE_UID", "MASK"]

MODE_HELP: dict[str, str] = {  # the docs' mode table (docs/image.md) and `--help` come from here
    'serve': "write GenroPy's config, wait for the database, `gnr db setup` and GenroPy's first-use records "
             "(`genropy_asgi.container.first_use`) under a lock, then supervisord: GenroPy's process set",
    'daemon': 'gnrdaemon alone (foreground), on `GNR_DAEMON_BIND`: the shared daemon of a scaled-out site '
              '([Topologies](topologies.md))',
    'async': '`gnr web async -p GENROPY_ASYNC_PORT` alone, on the shared register (gnrdaemon, or Redis): the live '
             'updates of a scaled-out site',
    'scheduler': '`gnr web taskscheduler` alone, on `GNR_SCHEDULER_BIND`: exactly one per site',
    'taskworker': '`gnr web taskworker -p GENROPY_TASK_WORKERS` alone, on the shared register (`GNR_DAEMON_HOST`, '
                  'or `GENROPY_REGISTER=redis`) and scheduler (`GNR_SCHEDULER_URL`)',
    'dbsetup': '`gnr db setup SITE` under a lock (PostgreSQL advisory lock / file lock), then exit',
    'backup': 'the database and the instance\'s `data/` and `site/` into one archive in `GENROPY_BACKUP_DESTINATION`, '
              'then retention, then exit; `backup --every SECONDS` repeats ([Backups](backups.md))',
    'restore': '`restore NAME|latest [--replace]`: verify the archive, restore it beside the site, swap it in, '
               '`gnr db setup`, exit; `restore --list`, `restore --verify NAME` ([Backups](backups.md))',
    'print-config': 'the launch plan as JSON, secrets masked; writes nothing',
    'check': 'the launch plan, the writable folders on the real mounts, the packages\' requirements, GenroPy '
             'loading the instance (no database needed), then PostgreSQL with the site\'s credentials; exit 0 or '
             "the one-line error, exit 2 (compose's `site-check`)",
    'shell': 'bash with the same environment',
}
MODES = tuple(MODE_HELP)
DATABASE_MODES = ("serve", "async", "scheduler", "taskworker", "dbsetup", "backup", "restore")  # they wait
# for PostgreSQL and, but dbsetup (which is the setup) and the backup modes, run the idempotent gnr db setup
# under the shared lock first: a scheduler started before any web pod finds its tables
BACKUP_MODES = ("backup", "restore")  # run in the entrypoint's process (site_backup); restore sets up after
REQUIREMENTS_MODES = ("check", "install")
ADMIN_TAGS = "superadmin,_DEV_,admin,user"
IMAGE_UID = 10001  # the image's own user (Dockerfile: useradd --uid 10001 --gid 0)
MASK = settings.MASK


@dataclass
class LaunchPlan:
    mode: str
    site: str
    home: str
    config_dir: str
    files: dict[str, str]  # path relative to config_dir -> content
    command: list[str]  # what finally runs (supervisord, gnr, a shell, the user's command)
    env: dict[str, str]  # environment for the command (secrets removed)
    server_command: list[str]  # what supervisord's "server" program runs
    port: int
    workers: int
    db: DbTarget | None
    db_setup: bool
    db_setup_when_changed: bool  # GENROPY_DB_SETUP=auto: skipped while the model is unchanged
    debug: bool
    secrets: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    project_roots: list[str] = field(default_factory=list)
    requirements: str = "check"  # GENROPY_PROJECT_REQUIREMENTS: check | install (into python_packages)
    python_packages: str = ""  # where "install" puts what the instance's packages need (cached by key)
    venv_bin: str = "/opt/venv/bin"
    settings: dict[str, object] = field(default_factory=dict)  # every setting as read (print-config)
    db_setup_commands: list[list[str]] = field(default_factory=list)  # gnr db setup, then first-use records
    site_data: str = ""  # GENROPY_SITE_DATA: where the instances' data/ and site/ live ("" : in place)
    root_py: str | None = None  # where GenroPy's standard root.py goes (the project has none), else None
    shadows: dict[str, str] = field(default_factory=dict)  # read-only project roots -> their shadows
    shared_daemon: bool = False  # GNR_DAEMON_HOST: the programs use a gnrdaemon running elsewhere
    backup: BackupSettings | None = None  # GENROPY_BACKUP_*: modes backup and restore
    mode_args: list[str] = field(default_factory=list)  # what follows the mode (backup/restore's options)

    def masked(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, MASK)
        return text

    def as_json(self) -> str:
        """The plan for ``print-config``: everything, secrets masked."""
        payload = {
            "mode": self.mode, "site": self.site, "home": self.home, "config_dir": self.config_dir,
            "command": self.command, "server_command": self.server_command, "port": self.port,
            "workers": self.workers, "debug": self.debug, "db_setup": self.db_setup,
            "db_setup_when_changed": self.db_setup_when_changed,
            "wait_for_db": None if self.db is None else {"host": self.db.host, "port": self.db.port,
                                                         "timeout": self.db.timeout},
            "env": self.env, "files": self.files, "notes": self.notes, "settings": self.settings,
        }
        return self.masked(json.dumps(payload, indent=2, sort_keys=True))


@dataclass
class Inputs:
    """Everything read from the environment and the mounted files (step 1)."""

    site: str
    home: str
    app_dir: str
    venv_bin: str
    project_roots: list[str]
    requirements: str
    secrets: Secrets
    hmac_key: str
    daemon_port: int
    db: dict[str, str]
    remotedb: str
    setup: GnrSetup
    processes: ProcessSet
    debug: bool
    port: int
    host: str
    workers: int
    threads: int
    shutdown: float
    db_wait: float
    db_setup: bool
    db_setup_when_changed: bool
    placement: Placement
    site_data: str
    async_port: int
    root_py: str | None
    shadows: dict[str, str]  # a read-only project's roots -> their shadows (read_only_project)
    register: str = "pyro"  # GENROPY_REGISTER for the programs (topology.register_placement)
    notes: list[str] = field(default_factory=list)  # what reading them found worth a line at start


OTHER_COMMANDS = "executed as given (e.g. `gnr db migrate demo`)"
HELP_WORDS = ("--help", "-h", "help")


def modes_table() -> str:
    """The mode table of docs/image.md (a test compares it)."""
    rows = [f"| `{mode}`{' (default)' if mode == MODES[0] else ''} | {text} |" for mode, text in MODE_HELP.items()]
    return "\n".join(["| mode | does |", "|---|---|", *rows, f"| anything else | {OTHER_COMMANDS} |"])


def plain(markdown: str) -> str:
    """A README cell as terminal text: no backticks, links as their words."""
    return re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", markdown).replace("`", "")


def help_text() -> str:
    """``docker run IMAGE --help``: the modes, one line each."""
    width = max(map(len, MODES)) + 2
    lines = ["usage: docker run [options] IMAGE [MODE | COMMAND [ARGS...]]", "",
             f"modes (default {MODES[0]}):"]
    lines += [f"  {mode.ljust(width)}{plain(text)}" for mode, text in MODE_HELP.items()]
    lines += [f"  {'COMMAND'.ljust(width)}{plain(OTHER_COMMANDS)}", "",
              "Settings are environment variables: see docs/image.md (print-config shows them as read)."]
    return "\n".join(lines)


def make_plan(env: Mapping[str, str], files: FileSource, args: list[str],
              new_secret: Callable[[], str] = lambda: secrets_module.token_hex(24),
              command_exists: Callable[[str], bool] = lambda name: True,
              read_only: Callable[[str], bool] = lambda instance: False) -> LaunchPlan:
    """Decide everything the container does, from its environment and mounted files:
    read settings -> server command -> child env -> mode command."""
    mode = args[0] if args else "serve"
    if mode not in MODES and not command_exists(mode):
        raise PlanError(f"unknown mode or command {mode!r}: expected one of {', '.join(MODES)}, "
                        "or a command on PATH")
    env, tool_notes = genropy_tools_env.translated(env)  # GenroPy's own tools' variables: ours, or refused
    settings.validate(env, settings.IMAGE)  # every setting of the table, before anything else
    inputs = read_inputs(env, files, new_secret, mode, read_only)
    server_args, server_command = server_commands(inputs)
    child_env = child_environment(env, inputs, server_args, server_command)
    if mode in BACKUP_MODES:  # `docker exec ... backup` beside a running site leaves its config alone
        child_env["GENRO_GNRFOLDER"] = os.path.join(inputs.home, "tmp", f"{mode}-{os.getpid()}", "gnr")
    command = json_logged(mode, mode_command(mode, args[1:], inputs), env, inputs)
    db = inputs.db
    db_target = None
    if db.get("implementation") == "postgres" and (mode in DATABASE_MODES or mode == "check"):  # check: reachable
        db_target = DbTarget(host=db["host"], port=int(db.get("port") or 5432), name=db.get("dbname"),
                             user=db.get("user"), password=db.get("password"), timeout=inputs.db_wait)
    config_files = render_config_folder(inputs.setup)
    config_files.update(register_secret_files(inputs, child_env))
    return LaunchPlan(
        mode=mode, site=inputs.site, home=inputs.home, config_dir=child_env["GENRO_GNRFOLDER"],
        files=config_files, command=command, env=child_env, server_command=server_command,
        port=inputs.port, workers=inputs.workers, db=db_target,
        db_setup=inputs.db_setup and mode in DATABASE_MODES and mode not in ("dbsetup", "backup")
        and not inputs.remotedb,  # restore: after the archive is in place
        db_setup_when_changed=inputs.db_setup_when_changed, debug=inputs.debug,
        secrets=inputs.secrets.values, notes=tool_notes + plan_notes(env, inputs), project_roots=inputs.project_roots,
        requirements=inputs.requirements, python_packages=os.path.join(inputs.home, "python"),
        venv_bin=inputs.venv_bin, settings=settings.snapshot(env, settings.IMAGE),
        db_setup_commands=[[os.path.join(inputs.venv_bin, "gnr"), "db", "setup", inputs.site],
                           [os.path.join(inputs.venv_bin, "python"), "-m", "genropy_asgi.container.first_use", inputs.site]],
        site_data=inputs.site_data, root_py=inputs.root_py, shadows=inputs.shadows, shared_daemon=inputs.placement.shared,
        backup=backup_settings(env, inputs.secrets, inputs.home) if mode in BACKUP_MODES else None,
        mode_args=list(args[1:]),
    )


REDIS_SECRETS = ("GENROPY_REDIS_URL", "GENROPY_REDIS_PASSWORD")


def register_secret_files(inputs: Inputs, child_env: dict[str, str]) -> dict[str, str]:
    """``GENROPY_REGISTER=redis``: the server's URL and password reach the programs as files of
    the config folder (0600), named by ``*_FILE`` in their environment (secrets never are
    environment values of the children)."""
    if inputs.register != "redis":
        return {}
    files = {}
    for name in REDIS_SECRETS:
        value = inputs.secrets.get(name)
        if value:
            relative = f"genropy-asgi/{name.lower()}"
            files[relative] = value
            child_env[f"{name}_FILE"] = os.path.join(child_env["GENRO_GNRFOLDER"], relative)
    return files


def backup_settings(env: Mapping[str, str], secrets: Secrets, home: str) -> BackupSettings:
    """Where archives go and how many stay (``GENROPY_BACKUP_*``; S3: the standard ``AWS_*``)."""
    raw = text(env, "GENROPY_BACKUP_DESTINATION") or os.path.join(home, "backups")
    try:
        destination = parse_destination(raw)
    except BackupError as exc:
        raise PlanError(str(exc)) from None
    credentials = {"endpoint_url": text(env, "GENROPY_BACKUP_S3_ENDPOINT"),
                   "region_name": text(env, "AWS_REGION"),
                   "aws_access_key_id": secrets.get("AWS_ACCESS_KEY_ID"),
                   "aws_secret_access_key": secrets.get("AWS_SECRET_ACCESS_KEY")}
    if destination.bucket and not (credentials["aws_access_key_id"] and credentials["aws_secret_access_key"]):
        raise PlanError(f"GENROPY_BACKUP_DESTINATION={raw}: an S3 bucket needs AWS_ACCESS_KEY_ID(_FILE) and "
                        "AWS_SECRET_ACCESS_KEY(_FILE)")
    return BackupSettings(destination=destination, keep=whole(env, "GENROPY_BACKUP_KEEP"),
                          max_age_days=whole(env, "GENROPY_BACKUP_MAX_AGE_DAYS"), credentials=credentials)


def read_inputs(env: Mapping[str, str], files: FileSource, new_secret: Callable[[], str], mode: str,
                read_only: Callable[[str], bool] = lambda instance: False) -> Inputs:
    """Step 1: the settings, the secrets, the mounted siteconfig and projects, checked together.

    ``read_only(instance folder)`` (the entrypoint's probe, ``read_only_project.needs_shadow``):
    with ``GENROPY_SITE_DATA``, such a project is served through shadow roots."""
    site = given(env, "GNR_CURRENT_SITE")
    home = given(env, "GENROPY_HOME")
    workers = server_workers(whole(env, "GENROPY_WORKERS"), text(env, "GENROPY_REGISTER"), available_workers())
    project_roots = list(dict.fromkeys(project_root(p, files) for p in given(env, "GENROPY_PROJECTS").split(":") if p))
    check_site(site, project_roots, files)
    site_data = (text(env, "GENROPY_SITE_DATA") or "").rstrip("/")
    instance = instance_path(site, project_roots, files)
    shadows = shadow_roots(home, project_roots) if site_data and instance and read_only(instance) else {}
    root_py = missing_root_py(site, project_roots, files)
    secrets = Secrets(env, files)
    # gnrdaemon: a random HMAC key per container unless given (Pyro uses pickle); a shared
    # daemon (off loopback, or elsewhere) refuses to run without one (topology.placement)
    given_key = secrets.get("GNR_DAEMON_HMAC_KEY")
    where = placement(env, mode, bool(given_key))
    hmac_key = given_key or new_secret()
    secrets.add(hmac_key)
    secrets.add(external_secret_for(hmac_key))  # GenroPy's token key, in environment.xml
    daemon_port = whole(env, "GNR_DAEMON_PORT")
    db = database_attributes(env, secrets)
    remote_dbs, forwarded_ports = remote_databases(env, secrets)
    remotedb = text(env, "GNR_REMOTEDB") or ""
    if remotedb and remotedb not in remote_dbs:
        known = ", ".join(sorted(remote_dbs)) or "none"
        raise PlanError(f"GNR_REMOTEDB={remotedb!r}: no GNR_REMOTEDB_{remotedb}_* variables "
                        f"(remote databases configured: {known})")
    if remotedb in forwarded_ports:
        # GenroPy forwards the MAIN <db> port through the tunnel and then connects to the
        # main <db> host on the tunnel's local port: the daemon runs in this container.
        db = {**db, "host": "127.0.0.1", "port": forwarded_ports[remotedb]}
    xml_users = {}
    admin_notes: list[str] = []
    admin_password = secrets.get("GNR_ADMIN_PASSWORD")
    if admin_password:
        # the tags of the admin GenroPy's own `gnr app initgenropy` writes (gnr/app/gnrdeploy.py)
        entry = password_entry(admin_password, hashlib.sha256(new_secret().encode()).hexdigest()[:32])
        secrets.add(entry)
        requested = given(env, "GNR_ADMIN_USER")
        config_path, config_text = instance_config(site, project_roots, files)
        login = admin_login(requested, instance_xml_users(config_text))
        if login != requested:
            admin_notes.append(renamed_note(config_path, requested, login))
        xml_users[login] = {"pwd": entry, "tags": ADMIN_TAGS}

    siteconfig = mounted_siteconfig(env, files)
    wsgi_element = siteconfig.find("wsgi") if siteconfig is not None else None
    site_wsgi = {} if wsgi_element is None else dict(wsgi_element.attrib)
    processes = process_set(env, site_wsgi)
    wsgi, debug_requested, port = wsgi_settings(env, site_wsgi, processes)
    setup = GnrSetup(
        projects={f"projects{i}": shadows.get(root, root) for i, root in enumerate(project_roots)},
        daemon_hmac_key=hmac_key, daemon_host=where.daemon_host, daemon_port=daemon_port,
        # GNR_DB_IMPLEMENTATION given: the deployment's database replaces the instance's
        # own <db> (db_override_compat); else the instance's, under any partial settings
        wsgi=wsgi, db={} if db.get("implementation") else db, db_override=db if db.get("implementation") else {},
        remote_dbs=remote_dbs, xml_users=xml_users,
        site_extra=site_extra_from(siteconfig),
        # GenroPy's task system: ours (GENROPY_TASKS), a scheduler workload's, or the task
        # workloads themselves; else GenroPy's older scheduler inside gnrdaemon
        tasks_async=processes.tasks or bool(where.scheduler_url) or mode in ("scheduler", "taskworker"),
    )
    metrics_port = whole(env, "GENROPY_METRICS_PORT")
    check_ports({"GNR_WSGI_OPT_port (the web port)": port, "GNR_DAEMON_PORT": daemon_port,
                 **({"GNR_SCHEDULER_PORT": processes.scheduler_port} if processes.tasks else {}),
                 **({"GENROPY_METRICS_PORT": metrics_port} if metrics_port and mode == "serve" else {})})
    return Inputs(
        site=site, home=home, app_dir=given(env, "GENROPY_APP_DIR"),
        venv_bin=os.path.join(given(env, "GENROPY_VENV"), "bin"),
        project_roots=[shadows.get(root, root) for root in project_roots], shadows=shadows,
        requirements=given(env, "GENROPY_PROJECT_REQUIREMENTS"), secrets=secrets, hmac_key=hmac_key,
        daemon_port=daemon_port, db=db, remotedb=remotedb, setup=setup, processes=processes,
        debug=bool(debug_requested), port=port, host=listen_host(env), workers=workers,
        threads=whole(env, "GENROPY_WSGI_THREADS"), shutdown=seconds(env, "GENROPY_SHUTDOWN_TIMEOUT"),
        db_wait=seconds(env, "GENROPY_DB_WAIT"), db_setup=given(env, "GENROPY_DB_SETUP") != "never",
        db_setup_when_changed=given(env, "GENROPY_DB_SETUP") == "auto",
        placement=where, site_data=site_data, async_port=whole(env, "GENROPY_ASYNC_PORT"),
        root_py=shadow_path(root_py, shadows) if root_py else None,
        register=register_placement(env, mode, workers, where, bool(given_key)),
        notes=admin_notes,
    )


def wsgi_settings(env: Mapping[str, str], site_wsgi: Mapping[str, str],
                  processes: ProcessSet) -> tuple[dict[str, str], bool, int]:
    """The siteconfig's ``<wsgi>`` under the deployment's settings: the element to write,
    whether debug is on (refused unless allowed), the web port."""
    wsgi = {"debug": "False::B", "reload": "False::B", **site_wsgi,
            "websockets": "True::B" if processes.async_server else "False::B"}
    external_host = text(env, "GENROPY_EXTERNAL_HOST")
    if external_host:
        wsgi["external_host"] = external_host.rstrip("/")
    debug_requested = genropy_bool(env.get("GNR_WSGI_OPT_debug")) if env.get("GNR_WSGI_OPT_debug") \
        else genropy_bool(wsgi.get("debug"))
    if debug_requested and not flag(env, "GENROPY_ALLOW_DEBUG"):
        raise PlanError("debug is on (GNR_WSGI_OPT_debug or the siteconfig's wsgi debug): werkzeug's console "
                        "executes code sent by any client; set GENROPY_ALLOW_DEBUG=true to accept that")
    declared_port = wsgi.get("port", str(settings.WEB_PORT)).split("::")[0]
    port = settings.read_as(env, "GNR_WSGI_OPT_port", settings.Port(),
                            int(declared_port) if declared_port.isascii() and declared_port.isdigit() else settings.WEB_PORT)
    return wsgi, bool(debug_requested), port


def server_commands(inputs: Inputs) -> tuple[list[str], list[str]]:
    """Step 2: gnrasgiserve's arguments, and what supervisord's "server" program runs."""
    server_args = [inputs.site, "-H", inputs.host, "-p", str(inputs.port)]
    if not inputs.debug:
        server_args.append("--nodebug")
    if inputs.remotedb:
        server_args += ["--remotedb", inputs.remotedb]
    if inputs.workers > 1:
        return server_args, [os.path.join(inputs.venv_bin, "gunicorn"), "-c",
                             os.path.join(inputs.app_dir, "config", "gunicorn.conf.py"),
                             "genropy_asgi.launch.app_factory:create_app()"]
    return server_args, [os.path.join(inputs.venv_bin, "gnrasgiserve"), *server_args]


def child_environment(env: Mapping[str, str], inputs: Inputs, server_args: list[str],
                      server_command: list[str]) -> dict[str, str]:
    """Step 3: the programs' environment: the container's, minus secrets and old names, plus ours."""
    processes, home, host, port = inputs.processes, inputs.home, inputs.host, inputs.port
    child_env = {key: value for key, value in env.items()
                 if not _carries_secret(key) and key not in settings.ALIASES}
    child_env.update({
        "GENRO_GNRFOLDER": os.path.join(home, "gnr"),
        "GNR_CURRENT_SITE": inputs.site,
        "HOME": home,
        "GENROPY_HOME": home,
        "GENROPY_RUN": os.path.join(home, "run"),
        "TMPDIR": os.path.join(home, "tmp"),  # one writable mount (GENROPY_HOME) is enough
        "GENROPY_ASGI_ARGV": json.dumps(server_args),
        "GENROPY_WSGI_THREADS": str(inputs.threads),
        "GENROPY_SHUTDOWN_TIMEOUT": f"{inputs.shutdown:g}",
        "GENROPY_DAEMON_WAIT": f"{seconds(env, 'GENROPY_DAEMON_WAIT', 60.0):g}",  # the image's programs: 60 unless set
        "GENROPY_BIND": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",  # gunicorn's form
        "GENROPY_WORKERS": str(inputs.workers),
        "GENROPY_STOP_WAIT": str(int(math.ceil(inputs.shutdown)) + settings.SERVER_STOP_MARGIN),
        "GENROPY_SERVER_COMMAND": shlex.join(server_command),
        "GENROPY_DAEMON_ADDRESS": f"{daemon_address(inputs)}:{inputs.daemon_port}",
        "GENROPY_DAEMON_AUTOSTART": str(inputs.placement.own_daemon).lower(),
        "GENROPY_REGISTER": inputs.register,
        "GENROPY_REGISTER_STORE": os.path.join(inputs.site_data or home, "registers"),
        "GENROPY_SOCKETS": os.path.join(home, "run", "sockets"),  # gnr web async's, never on the shared volume
        # what gnr web async/taskscheduler/taskworker are given: the same database as the server
        "GENROPY_SITE_SPEC": f"{inputs.site}:{inputs.remotedb}" if inputs.remotedb else inputs.site,
        # gnr web async is supervisord's program, never gnrasgiserve's child
        "GENROPY_ASYNC_SERVER": "external" if processes.async_server else "off",
        # a shared gnr web async (GENROPY_ASYNC_ADDRESS, mode async elsewhere): none of our own
        "GENROPY_ASYNC_AUTOSTART": str(processes.async_server and not text(env, "GENROPY_ASYNC_ADDRESS")).lower(),
        "GENROPY_SCHEDULER_AUTOSTART": str(processes.tasks).lower(),
        "GENROPY_TASKWORKER_AUTOSTART": str(processes.tasks and processes.task_workers > 0).lower(),
        "GENROPY_TASK_WORKER_SLOTS": str(max(processes.task_workers, 1)),  # supervisord: numprocs >= 1
        # the server processes write their metrics there; supervisord's "metrics" program serves them
        "PROMETHEUS_MULTIPROC_DIR": os.path.join(home, "run", "metrics"),
        "GENROPY_METRICS_AUTOSTART": str(bool(whole(env, "GENROPY_METRICS_PORT"))).lower(),
        "GENROPY_METRICS_BIND": given(env, "GENROPY_METRICS_BIND") or host,  # where the web port listens, unless set
        "GNR_SCHEDULER_HOST": "127.0.0.1",
        "GNR_SCHEDULER_PORT": str(processes.scheduler_port),
        "GNR_SCHEDULER_URL": inputs.placement.scheduler_url or f"http://127.0.0.1:{processes.scheduler_port}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    })
    return child_env


def mode_command(mode: str, rest: list[str], inputs: Inputs) -> list[str]:
    """Step 4: what finally runs."""
    gnr = os.path.join(inputs.venv_bin, "gnr")
    if mode == "serve":
        return [os.path.join(inputs.venv_bin, "supervisord"), "-c",
                os.path.join(inputs.app_dir, "config", "supervisord.conf")]
    if mode == "daemon":
        return [os.path.join(inputs.venv_bin, "python"), "-m", "genropy_asgi.container.gnrdaemon"]
    site_spec = f"{inputs.site}:{inputs.remotedb}" if inputs.remotedb else inputs.site
    if mode == "async":
        return [gnr, "web", "async", site_spec, "-p", str(inputs.async_port)]
    if mode == "scheduler":
        return [gnr, "web", "taskscheduler", site_spec, "--host", inputs.placement.scheduler_bind,
                "--port", str(inputs.processes.scheduler_port)]
    if mode == "taskworker":
        return [gnr, "web", "taskworker", site_spec, "-p", str(max(inputs.processes.task_workers, 1))]
    if mode == "dbsetup":
        return [gnr, "db", "setup", inputs.site]
    if mode == "shell":
        return ["/bin/bash", *rest]
    if mode in ("print-config", "check", *BACKUP_MODES):
        return []
    return [mode, *rest]


LOGGED_MODES = {"serve": "supervisord", "daemon": "gnrdaemon", "async": "async", "scheduler": "taskscheduler",
                "taskworker": "taskworker"}


def json_logged(mode: str, command: list[str], env: Mapping[str, str], inputs: Inputs) -> list[str]:
    """With ``GENROPY_LOG_FORMAT=json``, a long-running mode's program behind ``prefix_output``: its own
    lines (supervisord's included) become JSON records like every other program's."""
    if given(env, "GENROPY_LOG_FORMAT") != "json" or mode not in LOGGED_MODES or not command:
        return command
    return [os.path.join(inputs.venv_bin, "python"), "-m", "genropy_asgi.container.prefix_output",
            LOGGED_MODES[mode], *command]


def daemon_address(inputs: Inputs) -> str:
    """Where this container's programs reach gnrdaemon (a wildcard bind is reached on loopback)."""
    host = inputs.placement.daemon_host
    return "127.0.0.1" if host in ("0.0.0.0", "::", "[::]") else host


def plan_notes(env: Mapping[str, str], inputs: Inputs) -> list[str]:
    """Lines the start prints: old variable names, settings that change nothing."""
    notes = settings.deprecations(env) + inputs.notes
    if inputs.processes.task_workers and not inputs.processes.tasks and (env.get("GENROPY_TASK_WORKERS") or "").strip():
        notes.append("GENROPY_TASK_WORKERS is set but GENROPY_TASKS is off: no scheduler, no workers")
    if whole(env, "GENROPY_MAX_REQUESTS") and inputs.workers == 1:
        notes.append("GENROPY_MAX_REQUESTS is set but GENROPY_WORKERS=1: a single process is never replaced (the "
                     "site would stop meanwhile); it applies with GENROPY_WORKERS > 1")
    if inputs.shadows:
        notes.append(f"the project of site {inputs.site} cannot be written: served through a shadow of its folders "
                     f"in {os.path.dirname(next(iter(inputs.shadows.values())))}, GenroPy's data/ and site/ in "
                     f"GENROPY_SITE_DATA={inputs.site_data}; the project is untouched")
    if inputs.root_py:
        notes.append(f"the project has no root.py for site {inputs.site} (GenroPy needs one to serve it): "
                     f"GenroPy's standard one is supplied as {inputs.root_py}, a runtime file (no file "
                     "of the project's own changes)")
    if inputs.remotedb:
        notes.append(f"serving with --remotedb {inputs.remotedb}: the gnrdaemon opens the SSH tunnel")
    return notes


def unprivileged_uid(current_uid: int, instance_owner: int | None) -> int | None:
    """Who a container started as root runs as (``None``: nobody else, it is not root).

    GenroPy writes into the instance (``data/``, ``site/``): the owner of the mounted
    instance folder, so what it writes stays the developer's, whoever they are
    (compose's default). A root-owned instance (a root clone, a CI runner) or none
    found: the image's own user, after the entrypoint gave it those two folders.
    GenroPy never runs as root.
    """
    if current_uid != 0:
        return None
    return instance_owner if instance_owner else IMAGE_UID


def _carries_secret(name: str) -> bool:
    """Secret variables (and their _FILE pointers, harmless but useless) never reach the children."""
    base = name[:-5] if name.endswith("_FILE") else name
    return settings.is_secret_name(base) or name == "GNR_DB_DSN"
