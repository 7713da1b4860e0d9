"""GenroPy's older task scheduler (inside gnrdaemon) on SQLite: "every N minutes" tasks run.

Why this exists: GenroPy 26.10's ``sys.task.isTaskScheduledNow`` subtracts the task's
``last_scheduled_ts`` from an aware UTC "now". PostgreSQL returns that column aware;
SQLite returns it naive (its adapter drops the zone; the stored wall time is UTC), so on
SQLite every frequency task fails each minute with ``TypeError: can't subtract
offset-naive and offset-aware datetimes`` and never runs again after its first run.

What it does: ``gnr.web.gnrtask.GnrTaskScheduler`` (the older scheduler gnrdaemon runs
when the new task system is off) checks its tasks through a ``sys.task`` whose
``isTaskScheduledNow`` reads a naive ``last_scheduled_ts`` as UTC when "now" is aware.
The model file itself cannot be patched on import (GenroPy loads it by path), hence the
scheduler. The new scheduler (``gnrtask_new``) already does this.

When to drop it: ``tests/compat/test_task_schedule.py`` fails the day GenroPy changes
the code this relies on.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any


def as_utc_when_naive(check: Any) -> Any:
    def checked(task: Any, timestamp: Any) -> Any:
        last = task["last_scheduled_ts"]
        if last is not None and last.tzinfo is None and getattr(timestamp, "tzinfo", None) is not None:
            task = {**dict(task), "last_scheduled_ts": last.replace(tzinfo=UTC)}
        return check(task, timestamp)

    return checked


def patch_task_module(module: Any) -> None:
    scheduler_class = module.GnrTaskScheduler
    original = scheduler_class.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.tasktbl.isTaskScheduledNow = as_utc_when_naive(self.tasktbl.isTaskScheduledNow)

    init.__wrapped__ = original  # type: ignore[attr-defined]
    scheduler_class.__init__ = init
    module.GENROPY_ASGI_TASK_SCHEDULE_COMPAT = "naive last_scheduled_ts read as UTC"
