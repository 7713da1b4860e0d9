"""The container's first program (behind tini): carry out the launch plan.

Thin shell around ``plan.make_plan`` (the decisions). Effects, in order:
1. bad input -> one ``genropy-asgi: error: ...`` line, exit 2, nothing written;
2. ``print-config`` -> the plan as JSON, secrets masked, nothing written;
   started as root (compose's default): become the owner of the mounted instance
   (``plan.unprivileged_uid``), GID 0; ``check`` -> the checks of 3. on the
   real mounts, then exit 0 (compose runs it first, so a configuration error stops
   there, once, instead of restart-looping the site);
3. the writable state: ``$GENROPY_HOME`` checked, GenroPy's config folder written
   all at once (0600 files), the instance's ``data``/``site`` targets created;
4. PostgreSQL: wait until it accepts our credentials (``GENROPY_DB_WAIT`` seconds);
5. (4 and 5: ``database_steps``) ``gnr db setup SITE`` under a lock (a PostgreSQL advisory lock, or a file lock for
   SQLite) so replicas starting together do not race; ``GENROPY_DB_SETUP=never`` skips;
6. ``serve``: supervisord (gnrdaemon, then the server) as a child; SIGTERM/SIGINT are
   forwarded, in-flight requests drain, exit 0; a program that keeps crashing stops
   the container with exit 1. Other modes exec their command.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from genropy_asgi.container.database_steps import db_setup, wait_for_database, wait_for_shared_daemon
from genropy_asgi.container.instance_folder import instance_folder
from genropy_asgi.container.plan import (
    BACKUP_MODES,
    DATABASE_MODES,
    HELP_WORDS,
    DiskFiles,
    LaunchPlan,
    PlanError,
    help_text,
    make_plan,
    unprivileged_uid,
)
from genropy_asgi.container.read_only_project import build_shadow, needs_shadow
from genropy_asgi.container.report import STARTED, STARTED_AT_VARIABLE, StartError, fail, log
from genropy_asgi.container.supervisorctl import SOCKET_FILE
from genropy_asgi.launch.gnrconfig import write_config_folder

# -- state on disk -----------------------------------------------------------------

def ensure_writable(path: str, what: str, fix: Callable[[str, OSError], str] | None = None) -> None:
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".write-test-{os.getpid()}")
        with open(probe, "w"):
            pass
        os.unlink(probe)
    except OSError as exc:
        advice = fix(path, exc) if fix else "mount a volume or a tmpfs there"
        raise StartError(f"{what} {path} is not writable by uid {os.getuid()} ({exc.strerror}): {advice}",
                         status=2) from exc


def owner_fix(path: str, error: OSError) -> str:
    """The exact fix for a mounted instance folder this UID cannot write."""
    if error.errno == errno.EROFS:
        return ("the project is mounted read-only: GenroPy writes the instance's data/ and site/, mount it "
                "read-write (or bake it into a derived image: docs/own-project.md)")
    try:
        owner: int | str = os.stat(path if os.path.exists(path) else os.path.dirname(path)).st_uid
    except OSError:
        owner = "the folder's owner"
    return (f"run the container as its owner (docker compose: GENROPY_UID={owner} in .env, or leave "
            f"GENROPY_UID unset; docker run: --user {owner}:0)")


def place_on_site_data(plan: LaunchPlan, folder: str, name: str) -> None:
    """``GENROPY_SITE_DATA``: the instance's ``name`` folder becomes
    ``$GENROPY_SITE_DATA/instances/<instance>/<name>``, through the symlink a baked project
    has (``prepare-project.sh``) or a new one; a real folder of the project is refused."""
    shared = os.path.join(plan.site_data, "instances", plan.site, name)
    ensure_writable(shared, "GENROPY_SITE_DATA's folder")
    path = os.path.join(folder, name)
    if os.path.realpath(path) == os.path.realpath(shared):
        return
    if not os.path.lexists(path):
        try:
            os.symlink(shared, path)
        except OSError as exc:
            raise StartError(f"GENROPY_SITE_DATA={plan.site_data}: the instance's {name} folder {path} cannot be "
                             f"placed there ({exc.strerror}): {owner_fix(path, exc)}", status=2) from exc
        return
    if not os.path.islink(path):
        raise StartError(f"GENROPY_SITE_DATA={plan.site_data} is set but {path} is a folder of the project: "
                         "GenroPy would write there; make it a symlink (entrypoint/prepare-project.sh, as "
                         "derived images do) or leave GENROPY_SITE_DATA unset", status=2)
    hop = os.path.join(os.path.dirname(path), os.readlink(path))  # e.g. $GENROPY_HOME/instances/<i>/site
    if os.path.isdir(hop) and not os.path.islink(hop):
        if os.listdir(hop):
            raise StartError(f"GENROPY_SITE_DATA={plan.site_data}: {hop} already holds files of this instance; "
                             f"move them to {shared} (or empty it)", status=2)
        os.rmdir(hop)
    elif os.path.islink(hop):
        os.unlink(hop)
    os.makedirs(os.path.dirname(hop), exist_ok=True)
    os.symlink(shared, hop)


def prepare_instance(plan: LaunchPlan) -> None:
    """``data`` and ``site`` of the instance must be writable; symlinked ones get their target."""
    folder = instance_folder(plan)
    if folder is None:
        return
    from genropy_asgi.container.backup_rules import STATUS_FILE

    plan.env["GENROPY_BACKUP_STATUS"] = os.path.join(folder, "data", STATUS_FILE)  # written by backup jobs
    for name in ("data", "site"):
        path = os.path.join(folder, name)
        if plan.site_data:
            place_on_site_data(plan, folder, name)
        if os.path.islink(path):
            target = os.path.realpath(path)
            os.makedirs(target, exist_ok=True)
            if name == "site":
                # GenroPy looks for "<site>/../root.py", which the kernel resolves
                # next to the symlink's TARGET: give the target a root.py too.
                link = os.path.join(os.path.dirname(target), "root.py")
                if not os.path.lexists(link) and os.path.isfile(os.path.join(folder, "root.py")):
                    os.symlink(os.path.join(folder, "root.py"), link)
        ensure_writable(path, f"the instance's {name} folder", owner_fix)
    supply_root_py(plan)
    if plan.mode == "serve":  # a previous run's announcement of its register (its pid may be anyone's now)
        from genropy_asgi.compat.register_hosted import remove_stale_announcement

        remove_stale_announcement(os.path.join(folder, "site"))


def serve_read_only_project(plan: LaunchPlan) -> None:
    """The shadow of a project this container cannot write (``read_only_project``), built afresh."""
    originals = list(plan.shadows)
    instance = next((os.path.join(root, project, "instances", plan.site) for root in originals
                     for project in sorted(os.listdir(root))
                     if os.path.isdir(os.path.join(root, project, "instances", plan.site))), None)
    if instance is None:
        raise StartError(f"GNR_CURRENT_SITE={plan.site}: its instance left GENROPY_PROJECTS while starting", status=2)
    ensure_writable(plan.home, "GENROPY_HOME")
    ensure_writable(os.path.join(plan.site_data, "instances", plan.site), "GENROPY_SITE_DATA's folder")
    build_shadow(plan.shadows, instance, plan.site_data)


def supply_root_py(plan: LaunchPlan) -> None:
    """GenroPy's standard root.py where the plan says the project lacks one (written whole, or not at all)."""
    if not plan.root_py or os.path.isfile(plan.root_py):
        return
    from genropy_asgi.compat.instance_site import STANDARD_ROOT_PY

    folder = os.path.dirname(plan.root_py)
    ensure_writable(folder, "the site folder (it gets GenroPy's standard root.py)", owner_fix)
    partial = f"{plan.root_py}.partial-{os.getpid()}"
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(STANDARD_ROOT_PY)
    os.replace(partial, plan.root_py)


def become_unprivileged(plan: LaunchPlan) -> None:
    """Started as root: run as the instance's owner (or the image's user), GID 0."""
    folder = instance_folder(plan)
    owner = os.stat(folder).st_uid if folder else None
    uid = unprivileged_uid(os.getuid(), owner)
    if uid is None:
        return
    backups = plan.backup.destination.folder if plan.backup is not None else None
    if backups and not os.path.isdir(backups):
        os.makedirs(backups, exist_ok=True)
    if backups and os.stat(backups).st_uid == 0 and uid != 0:  # a fresh volume or bind mount: ours to write
        os.chown(backups, uid, 0)
    if folder and not owner:  # root-owned instance: give the image's user GenroPy's two folders
        for name in ("data", "site"):
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.makedirs(path, exist_ok=True)
                for root, dirs, files in os.walk(path):
                    for entry in [root, *(os.path.join(root, n) for n in dirs + files)]:
                        os.lchown(entry, uid, 0)
    for fd in (0, 1, 2):  # docker's stdio pipes belong to root: supervisord reopens /dev/stdout
        try:
            os.fchown(fd, uid, 0)
        except OSError:
            pass  # a terminal or a file we cannot hand over: left as it is
    os.setgroups([0])
    os.setgid(0)
    os.setuid(uid)
    os.environ["HOME"] = plan.home
    whose = f"the owner of {folder}" if owner else "the image's user"
    log(plan, f"started as root: running as uid {uid} ({whose}), gid 0")


def write_state(plan: LaunchPlan) -> None:
    ensure_writable(plan.home, "GENROPY_HOME")
    run = plan.env["GENROPY_RUN"]
    os.makedirs(run, exist_ok=True)
    os.makedirs(plan.env["TMPDIR"], exist_ok=True)
    for leftover in ("fatal", "supervisord.pid", SOCKET_FILE, "restarts.json") if plan.mode == "serve" else ():
        if os.path.lexists(os.path.join(run, leftover)):
            os.unlink(os.path.join(run, leftover))
    metrics = plan.env.get("PROMETHEUS_MULTIPROC_DIR") if plan.mode == "serve" else None
    if metrics:  # a previous run's samples would be summed with this one's
        shutil.rmtree(metrics, ignore_errors=True)
        os.makedirs(metrics, exist_ok=True)
    write_config_folder(plan.config_dir, plan.files)
    with open(os.path.join(run, "port"), "w") as handle:
        handle.write(str(plan.port))
    prepare_instance(plan)


def check_state(plan: LaunchPlan) -> None:
    """What ``write_state`` would need, checked on the real mounts (``check`` mode)."""
    ensure_writable(plan.home, "GENROPY_HOME")
    folder = instance_folder(plan)
    for name in ("data", "site") if folder is not None else ():
        path = os.path.join(str(folder), name)
        if not os.path.islink(path):
            ensure_writable(path, f"the instance's {name} folder", owner_fix)
    if plan.root_py and not plan.root_py.startswith(os.path.join(folder or "", "site") + os.sep):
        ensure_writable(os.path.dirname(plan.root_py), "the site folder (it gets GenroPy's standard root.py)",
                        owner_fix)


# -- the packages' Python requirements -------------------------------------------------

def ensure_database_named(plan: LaunchPlan) -> None:
    """An instance that wants PostgreSQL names where it is (or the deployment does): one line, exit 2."""
    from genropy_asgi.container.database_plan import instance_database_problem
    from genropy_asgi.container.model_fingerprint import instance_db

    problem = instance_database_problem(instance_db(instance_folder(plan)), os.environ)
    if problem:
        raise StartError(problem, status=2)


def ensure_requirements(plan: LaunchPlan) -> None:
    """What the instance's GenroPy packages need (their ``requirements.txt``) is importable.

    ``check``: a missing one is one line naming it, the package that wants it and the
    fix (exit 2). ``install``: pip installs the missing ones into
    ``python_packages/<key>`` (kept: the next start with the same requirements installs
    nothing), which every program then sees (``GENROPY_PYTHON_PACKAGES``, read by the
    venv's start hook); pip honours the usual ``PIP_*`` variables (index, find-links).
    """
    from genropy_asgi.container import project_requirements as reqs

    folder = instance_folder(plan)
    config = os.path.join(folder, "config", "instanceconfig.xml") if folder else None
    if not config or not os.path.isfile(config):
        return
    try:
        with open(config, encoding="utf-8") as handle:
            packages = reqs.instance_packages(handle.read())
    except (OSError, ValueError) as exc:  # ET.ParseError is a ValueError
        raise StartError(f"{config}: not a readable instanceconfig ({exc})", status=2) from exc
    files = reqs.requirement_files(packages, plan.project_roots)
    from genropy_asgi import settings
    from genropy_asgi.container.flavours import left_out

    left = left_out(settings.read(plan.env, "GENROPY_IMAGE_FLAVOUR"))

    def missing_now() -> dict[str, list[str]]:
        return reqs.missing_requirements(files, bundled_left_out=left)

    missing = missing_now()
    if missing and plan.requirements == "install":
        target = os.path.join(plan.python_packages, reqs.requirements_key(missing))
        if not os.path.isdir(target):
            install_into(plan, target, list(missing))
        import site

        site.addsitedir(target)
        plan.env["GENROPY_PYTHON_PACKAGES"] = target
        missing = missing_now()
    if missing:
        raise StartError(f"missing Python requirements of the instance's packages: {reqs.describe_missing(missing)}; "
                         "build a derived image (docs/own-project.md) or set "
                         "GENROPY_PROJECT_REQUIREMENTS=install", status=2)


def ensure_instance_loads(plan: LaunchPlan) -> None:
    """``check``: GenroPy loads the instance (``instance_probe``); what fails is one line, exit 2."""
    from genropy_asgi.container.instance_probe import load_problem

    problem = load_problem(plan)
    if problem:
        raise StartError(problem, status=2)


def install_into(plan: LaunchPlan, target: str, requirements: list[str]) -> None:
    """pip install into a fresh folder, renamed into place only when complete."""
    log(plan, f"installing the packages' requirements: {', '.join(requirements)}")
    os.makedirs(plan.python_packages, exist_ok=True)
    staging = f"{target}.partial-{os.getpid()}"
    command = [os.path.join(plan.venv_bin, "python"), "-m", "pip", "install",
               "--quiet", "--disable-pip-version-check", "--target", staging, *requirements]
    result = subprocess.run(command, env=plan.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        sys.stderr.write(plan.masked(result.stdout[-4000:]))
        raise StartError(f"pip could not install {', '.join(requirements)} (output above); check the requirements "
                         "or pip's index (PIP_INDEX_URL, PIP_FIND_LINKS)", status=2)
    os.replace(staging, target)


# -- serving ------------------------------------------------------------------------

def supervise(plan: LaunchPlan) -> int:
    """supervisord as a child: forward stop signals; exit 1 if a program was FATAL."""
    from genropy_asgi.container.supervisorctl import credentials, new_token, wake

    started_at = time.time() - (time.monotonic() - STARTED)  # the programs' "ready" line counts from it
    new_token(plan.env["GENROPY_RUN"])
    child = subprocess.Popen(plan.command, env={**plan.env, STARTED_AT_VARIABLE: f"{started_at:.3f}",
                                                **credentials(plan.env["GENROPY_RUN"])})

    def forward(signum: int, frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM if signum == signal.SIGINT else signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    threading.Thread(target=wake, args=(plan.env["GENROPY_RUN"], lambda: child.poll() is None),
                     name="wake-supervisord", daemon=True).start()
    status = child.wait()
    fatal_marker = os.path.join(plan.env["GENROPY_RUN"], "fatal")
    if os.path.exists(fatal_marker):
        with open(fatal_marker) as handle:
            reason = handle.read().strip() or "a program kept exiting"
        return fail(f"{reason} (see its log above): stopping the container", 1)
    return status


def backup_or_restore(plan: LaunchPlan) -> int:
    """Modes ``backup`` and ``restore`` (``site_backup``), in this process: the S3 secret stays in the plan."""
    from genropy_asgi.container import site_backup
    from genropy_asgi.container.backup_rules import BackupError

    def after_restore() -> None:
        if plan.db_setup:
            db_setup(plan)  # the restored database, brought to this code's model

    try:
        return site_backup.run(plan, instance_folder(plan), plan.mode_args, after_restore)
    except BackupError as exc:
        return fail(plan.masked(str(exc)), 2)
    finally:  # its own GenroPy config folder (plan: never the serving one's)
        shutil.rmtree(os.path.dirname(plan.config_dir), ignore_errors=True)


def main(argv: list[str]) -> int:
    if argv[:1] and argv[0] in HELP_WORDS:
        print(help_text())
        return 0
    try:
        plan = make_plan(os.environ, DiskFiles(), argv, command_exists=lambda name: shutil.which(name) is not None,
                         read_only=needs_shadow)
    except PlanError as exc:
        return fail(str(exc), 2)
    if plan.mode == "print-config":
        print(plan.as_json())
        return 0
    try:
        become_unprivileged(plan)
        if plan.shadows:
            serve_read_only_project(plan)
        if plan.mode == "check":
            check_state(plan)
            ensure_database_named(plan)
            for note in plan.notes:
                log(plan, note)
            ensure_requirements(plan)
            ensure_instance_loads(plan)
            if plan.db is not None:  # reachable, with the credentials given
                wait_for_database(plan, plan.db)
            log(plan, f"configuration of {plan.site} checked: ready to serve")
            return 0
        if plan.mode in DATABASE_MODES:
            ensure_database_named(plan)  # before anything is written
        write_state(plan)
        log(plan, f"configuration written: site {plan.site}, mode {plan.mode}, GenroPy config in {plan.config_dir}")
        if plan.mode in DATABASE_MODES or plan.mode == "daemon":  # the daemon may run GenroPy's older scheduler
            ensure_requirements(plan)
        for note in plan.notes:
            log(plan, note)
        if plan.db is not None:  # PostgreSQL, for a mode that uses it
            wait_for_database(plan, plan.db)
        if plan.shared_daemon and plan.mode in DATABASE_MODES:
            wait_for_shared_daemon(plan)
        if plan.mode == "dbsetup" or (plan.db_setup and plan.mode not in BACKUP_MODES):
            db_setup(plan)
        if plan.mode in BACKUP_MODES:
            return backup_or_restore(plan)
    except StartError as exc:
        return fail(str(exc), exc.status)
    if plan.mode == "dbsetup":
        return 0
    if plan.mode == "serve":
        log(plan, f"serving {plan.site} on port {plan.port} ({plan.workers} worker"
                  f"{'s' if plan.workers > 1 else ''}): {' '.join(plan.server_command)}")
        return supervise(plan)
    os.execvpe(plan.command[0], plan.command, plan.env)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
