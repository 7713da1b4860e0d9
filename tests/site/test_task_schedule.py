"""GenroPy's older task scheduler on SQLite (``genropy_asgi.compat.task_schedule``): the code
it relies on is still GenroPy's, and the demo's every-minute task is scheduled again and
again on a real SQLite site (it failed from the second minute on)."""

from __future__ import annotations

import inspect

from support import DEMO_PROJECT

from genropy_asgi.testing.local import GnrWorkspace


def test_genropy_still_subtracts_a_naive_timestamp_from_an_aware_now():
    from gnr.web import gnrtask

    scheduler = inspect.getsource(gnrtask.GnrTaskScheduler)
    assert "self.tasktbl = self.db.table('sys.task')" in scheduler
    assert "now = datetime.now(timezone.utc)" in scheduler and "self.tasktbl.findTasks()" in scheduler
    import gnr

    model = open(gnr.__path__[0] + "/projects/gnrcore/packages/sys/model/task.py").read()
    assert "(timestamp-last_scheduled_ts).seconds" in model and "self.isTaskScheduledNow(task,timestamp)" in model


def test_a_frequency_task_is_scheduled_on_every_check(tmp_path):
    import subprocess
    import sys

    workspace = GnrWorkspace.create(DEMO_PROJECT, root=tmp_path / "ws")
    workspace.db_setup()
    check = ("from gnr.web.gnrtask import GnrTaskScheduler\n"
             "from datetime import datetime, timedelta, timezone\n"
             "s = GnrTaskScheduler('demo')\n"
             "s.writeTaskExecutions()\n"  # the first run: sets last_scheduled_ts
             "s.tasktbl.batchUpdate(dict(last_scheduled_ts=datetime.now(timezone.utc) - timedelta(minutes=5)),"
             " where='$id IS NOT NULL')\n"
             "s.db.commit()\n"
             "print('due', s.tasktbl.findTasks())\n")
    result = subprocess.run([sys.executable, "-c", check], env=workspace.env(), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "can't subtract offset-naive" not in result.stderr, result.stderr[-3000:]
    assert "due [(" in result.stdout and "'*')" in result.stdout, result.stdout + result.stderr[-2000:]
    workspace.remove()
