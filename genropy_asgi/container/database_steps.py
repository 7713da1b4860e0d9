"""The entrypoint's steps on what runs elsewhere: wait for PostgreSQL (and a shared
gnrdaemon), then ``gnr db setup`` and the first-use records under a lock shared by every
replica."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from genropy_asgi.container.plan import DbTarget, LaunchPlan
from genropy_asgi.container.report import StartError, log

ADVISORY_LOCK_KEY = 0x67656E726F  # "genro": the db setup lock shared by all replicas


def connect(db: DbTarget, timeout: float = 5.0) -> Any:
    import psycopg2

    return psycopg2.connect(host=db.host, port=db.port, user=db.user, password=db.password,
                            dbname="postgres", connect_timeout=max(1, int(timeout)))


def wait_for_database(plan: LaunchPlan, db: DbTarget) -> None:
    from genropy_asgi.polling import NotYet, retry

    log(plan, f"waiting for PostgreSQL at {db.host}:{db.port} (up to {db.timeout:g}s)")

    def attempt() -> None:
        try:
            connect(db).close()
        except Exception as exc:  # psycopg2.OperationalError and DNS errors alike
            last = " ".join(str(exc).split()) or type(exc).__name__
            if refused_credentials(last):  # waiting will not change it: say so at once
                raise StartError(plan.masked(f"database {db.host}:{db.port} refused the credentials of "
                                             f"GNR_DB_USER={db.user!r} ({last}): check GNR_DB_USER and "
                                             "GNR_DB_PASSWORD(_FILE)"), status=2) from exc
            raise NotYet(last) from exc

    try:
        retry(attempt, db.timeout, 1.0, NotYet)
    except NotYet as exc:
        raise StartError(plan.masked(f"database {db.host}:{db.port} not reachable after {db.timeout:g}s "
                                     f"(GENROPY_DB_WAIT): {exc}")) from None
    log(plan, "PostgreSQL answers")


def wait_for_shared_daemon(plan: LaunchPlan) -> None:
    """A shared gnrdaemon (``GNR_DAEMON_HOST``) listens before this container's programs start."""
    from genropy_asgi.container.wait_for_daemon import wait

    address, seconds = plan.env["GENROPY_DAEMON_ADDRESS"], float(plan.env["GENROPY_DAEMON_WAIT"])
    log(plan, f"waiting for the shared gnrdaemon at {address} (up to {seconds:g}s)")
    if not wait(address, seconds):
        raise StartError(f"gnrdaemon at {address} (GNR_DAEMON_HOST, GNR_DAEMON_PORT) not reachable after "
                         f"{seconds:g}s: is its workload (mode daemon) running, on that port?")


def refused_credentials(message: str) -> bool:
    """PostgreSQL's own words for a wrong user or password (never cured by waiting)."""
    return "password authentication failed" in message or ("role " in message and "does not exist" in message)


@contextmanager
def setup_lock(plan: LaunchPlan) -> Iterator[None]:
    """One ``db setup`` at a time across replicas: advisory lock, or a file lock for SQLite."""
    if plan.db is not None:
        conn = connect(plan.db)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
            yield
        finally:
            conn.close()  # releases the session lock
        return
    with open(os.path.join(plan.env["GENROPY_RUN"], "dbsetup.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


STEP_NAMES = {"setup": "gnr db setup (tables)", "genropy_asgi.container.first_use": "first-use records"}


class SetupRecord:
    """The last setup's fingerprint, kept with the database (``model_fingerprint``)."""

    def __init__(self, plan: LaunchPlan) -> None:
        from genropy_asgi.container import model_fingerprint as mf
        from genropy_asgi.container.instance_folder import instance_folder

        self.plan, self.mf = plan, mf
        folder = instance_folder(plan)
        self.dbname = (plan.db.name or mf.instance_dbname(folder)) if plan.db is not None else None
        self.data_folder = os.path.realpath(os.path.join(folder, "data")) if folder and plan.db is None else None
        database = ({"implementation": "postgres", "host": plan.db.host, "port": plan.db.port, "dbname": self.dbname}
                    if plan.db is not None else {"implementation": "sqlite", "site": plan.site})
        self.value = mf.fingerprint(mf.model_files(plan.project_roots, folder), mf.versions(), database)

    @property
    def usable(self) -> bool:
        return bool(self.dbname) if self.plan.db is not None else bool(self.data_folder)

    def matches(self) -> bool:
        if not self.usable:
            return False
        if self.plan.db is None:
            return self.data_folder is not None and self.mf.sqlite_record_matches(self.data_folder, self.value)
        if self.dbname is None:
            return False
        connection = connect(self.plan.db)
        try:
            return self.mf.postgres_record_matches(connection, self.dbname, self.value)
        finally:
            connection.close()

    def write(self) -> None:
        if not self.usable:
            return
        if self.plan.db is None:
            if self.data_folder is not None:
                self.mf.write_sqlite_record(self.data_folder, self.value)
            return
        if self.dbname is None:
            return
        connection = connect(self.plan.db)
        connection.autocommit = True
        try:
            self.mf.write_postgres_record(connection, self.dbname, self.value)
        finally:
            connection.close()


def db_setup(plan: LaunchPlan) -> None:
    """``gnr db setup``, then GenroPy's first-use records (``genropy_asgi.container.first_use``), under one lock:
    the programs supervisord starts next build the site at the same time. With
    ``GENROPY_DB_SETUP=auto`` both are skipped while the database's setup record matches."""
    steps = plan.db_setup_commands
    with setup_lock(plan):
        record = SetupRecord(plan)
        if plan.db_setup_when_changed and plan.mode != "dbsetup" and record.matches():
            log(plan, f"database setup: skipped, the model is unchanged since this database's last setup "
                      f"({record.value[:12]}; GENROPY_DB_SETUP=always to force it)")
            return
        log(plan, f"database setup: {' '.join(steps[0][1:])}")
        for command in steps:
            started = time.monotonic()
            result = subprocess.run(command, env=plan.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True)
            if result.returncode == 0:
                log(plan, f"{STEP_NAMES.get(command[-2], ' '.join(command[1:]))}: done in "
                          f"{time.monotonic() - started:.1f}s")
            if result.returncode != 0:
                what = " ".join([os.path.basename(command[0]), *command[1:]])
                from genropy_asgi.container import project_requirements as reqs

                missing = reqs.missing_module(result.stdout, plan.project_roots)
                if missing:  # an import the project's requirements.txt does not declare: say it in one line
                    raise StartError(f"{what}: {reqs.describe_missing_module(*missing)}", status=2)
                from genropy_asgi.container.instance_probe import load_problem

                problem = load_problem(plan)  # the instance itself does not load: that, in one line
                if problem:
                    raise StartError(f"{what}: {problem}", status=2)
                sys.stderr.write(plan.masked(result.stdout[-4000:]))
                raise StartError(f"{what} failed (exit {result.returncode}); its output is above")
        record.write()
