"""The exec liveness probe of the workloads that answer no HTTP (the chart's task workers):
a real process tree, alive, then stopped (SIGSTOP), then continued."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from genropy_asgi.container.liveness import main, problem

# a program with a child process (GenroPy's task worker and its process pool)
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


def test_alive_then_stopped_then_continued(capsys):
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert problem(parent.pid) is None and main([str(parent.pid)]) == 0
        os.kill(child, signal.SIGSTOP)
        time.sleep(0.2)
        assert f"process {child}" in problem(parent.pid) and "stopped" in problem(parent.pid)
        assert main([str(parent.pid)]) == 1
        assert capsys.readouterr().err.startswith("not alive: process ")
        os.kill(child, signal.SIGCONT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and problem(parent.pid) is not None:
            time.sleep(0.1)
        assert main([str(parent.pid)]) == 0  # continued: alive again
    finally:
        for pid in (child, parent.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except (OSError, NameError):
                pass
        parent.wait()


def test_nothing_under_init_is_not_alive():
    lone = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert problem(lone.pid) == f"no program runs under process {lone.pid}"
    finally:
        lone.kill()
        lone.wait()
