"""Supervision helpers without Docker: the crash-loop decision, the output prefixer,
the daemon wait, and supervisord's own parse of the image's config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genropy_asgi.container.crash_listener import CrashLoopDetector

CONFIG = Path(__file__).resolve().parents[2] / "config" / "supervisord.conf"
HELPERS = "genropy_asgi.container."


def exited(name, expected="0", group=None):
    return {"processname": name, "groupname": group or name, "expected": expected}


def test_five_unexpected_exits_within_the_window_is_a_crash_loop():
    detector = CrashLoopDetector(restarts=5, window=60)
    reasons = [detector.on_event("PROCESS_STATE_EXITED", exited("async"), now) for now in (0, 10, 20, 30)]
    assert reasons == [None] * 4
    assert detector.on_event("PROCESS_STATE_EXITED", exited("async"), 40) == "async crashed 5 times within 60 s"


def test_old_exits_fall_out_of_the_window_and_programs_count_apart():
    detector = CrashLoopDetector(restarts=3, window=60)
    for now in (0, 30):
        assert detector.on_event("PROCESS_STATE_EXITED", exited("async"), now) is None
    assert detector.on_event("PROCESS_STATE_EXITED", exited("taskworker_0", group="taskworker"), 40) is None
    assert detector.on_event("PROCESS_STATE_EXITED", exited("async"), 100) is None  # 0 and 30 are gone


def test_expected_exits_never_count_and_fatal_always_stops():
    detector = CrashLoopDetector(restarts=1, window=60)
    assert detector.on_event("PROCESS_STATE_EXITED", exited("server", expected="1"), 0) is None
    assert detector.on_event("PROCESS_STATE_FATAL", {"processname": "server", "groupname": "server"}, 0) == (
        "server could not be started (supervisord gave up after its start retries)")


def test_prefixer_keeps_the_pid_the_status_and_the_drain_output(tmp_path):
    program = tmp_path / "prog.py"
    program.write_text("import os, signal, sys, time\n"
                       "print('pid', os.getpid(), flush=True)\n"
                       "sys.stderr.write('to stderr\\n'); sys.stderr.flush()\n"
                       "signal.signal(signal.SIGTERM, lambda *a: (print('draining', flush=True), sys.exit(3)))\n"
                       "time.sleep(30)\n")
    process = subprocess.Popen([sys.executable, "-m", HELPERS + "prefix_output", "demo", sys.executable,
                                str(program)], stdout=subprocess.PIPE, start_new_session=True)
    first = process.stdout.readline().decode()
    assert first == f"demo | pid {process.pid}\n"  # the program IS the supervised process
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGTERM)  # what supervisord's stopasgroup does
    rest = process.stdout.read().decode()
    assert process.wait(10) == 3
    assert rest == "demo | to stderr\ndemo | draining\n"


def test_prefixer_names_a_missing_command():
    result = subprocess.run([sys.executable, "-m", HELPERS + "prefix_output", "ghost", "/no/such/program"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 127
    assert result.stdout == "ghost | cannot start /no/such/program: No such file or directory\n"


def test_wait_for_daemon_gives_up_with_a_line():
    env = {**os.environ, "GENROPY_DAEMON_ADDRESS": "127.0.0.1:9", "GENROPY_DAEMON_WAIT": "0.5"}
    result = subprocess.run([sys.executable, "-m", HELPERS + "wait_for_daemon", "true"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stderr) == (1, "gnrdaemon not listening on 127.0.0.1:9: not starting true\n")


@pytest.mark.parametrize(("async_on", "tasks_on", "slots"), [("true", "true", "3"), ("false", "false", "1")])
def test_supervisord_reads_the_config_with_the_entrypoint_environment(tmp_path, async_on, tasks_on, slots):
    from supervisor.options import ServerOptions

    env = {"GENROPY_RUN": str(tmp_path), "GENROPY_SITE_SPEC": "demo", "GENROPY_SERVER_COMMAND": "/bin/true",
           "GENROPY_STOP_WAIT": "40", "GENROPY_ASYNC_AUTOSTART": async_on, "GENROPY_SCHEDULER_AUTOSTART": tasks_on,
           "GENROPY_TASKWORKER_AUTOSTART": tasks_on, "GENROPY_TASK_WORKER_SLOTS": slots, "GNR_SCHEDULER_PORT": "14951",
           "GENROPY_DAEMON_AUTOSTART": async_on, "GENROPY_METRICS_AUTOSTART": async_on,
           "GENROPY_SUPERVISOR_USER": "genropy", "GENROPY_SUPERVISOR_TOKEN": "t0ken"}
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        options = ServerOptions()
        options.realize(["-c", str(CONFIG)])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    programs = {p.name: p for group in options.process_group_configs for p in group.process_configs}
    workers = sorted(name for name in programs if name.startswith("taskworker"))
    assert workers == [f"taskworker_{i}" for i in range(int(slots))]
    assert programs["async"].autostart is (async_on == "true")
    assert programs["gnrdaemon"].autostart is (async_on == "true")
    assert programs["taskscheduler"].autostart is (tasks_on == "true")
    assert programs["metrics"].autostart is (async_on == "true")
    assert [(c["username"], c["password"]) for c in options.server_configs] == [("genropy", "t0ken")]
    assert programs["async"].command.split()[-4:] == ["/opt/venv/bin/gnr", "web", "async", "demo"]
    assert programs["taskworker_0"].command.split()[1:4] == ["-m", HELPERS + "prefix_output", "taskworker_0"]
    assert "--host 127.0.0.1" in programs["taskscheduler"].command
