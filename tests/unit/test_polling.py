"""The one retry loop: retried errors until the deadline, any other at once."""

from __future__ import annotations

import time

import pytest

from genropy_asgi.polling import NotYet, retry


def test_returns_once_the_attempt_succeeds():
    calls = []

    def attempt():
        calls.append(1)
        if len(calls) < 3:
            raise NotYet("not yet")
        return "ready"

    assert retry(attempt, 5, 0.01) == "ready" and len(calls) == 3


def test_the_last_retried_error_propagates_after_the_deadline():
    started = time.monotonic()
    with pytest.raises(OSError, match="refused"):
        retry(lambda: (_ for _ in ()).throw(ConnectionRefusedError("refused")), 0.1, 0.02)
    assert time.monotonic() - started < 2


def test_another_error_stops_the_wait_at_once():
    calls = []

    def attempt():
        calls.append(1)
        raise ValueError("bad password")

    with pytest.raises(ValueError):
        retry(attempt, 60, 0.01)
    assert len(calls) == 1
