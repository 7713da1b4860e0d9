"""The one retry-until-deadline loop (waiting for gnrdaemon, PostgreSQL, a port, a page).

``retry(attempt, seconds, interval, retry_on)`` calls ``attempt()`` until it returns
without raising one of ``retry_on``; once ``seconds`` have passed, the last such
exception propagates. Anything else ``attempt`` raises stops the wait at once (a
refused password, a process that exited): waiting would not change it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class NotYet(Exception):
    """Raised by an attempt that found nothing wrong, only not ready yet."""


def retry(attempt: Callable[[], T], seconds: float, interval: float,
          retry_on: type[BaseException] | tuple[type[BaseException], ...] = (NotYet, OSError)) -> T:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return attempt()
        except retry_on:
            if time.monotonic() >= deadline:
                raise
            time.sleep(interval)
