"""Helpers shared by the test folders."""

from __future__ import annotations

import os

import pytest


def require(condition: bool, why: str) -> None:
    """Skip locally when a service is missing; in CI (CI=true) that is a failure."""
    if condition:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{why} (CI=true: this must not be skipped)")
    pytest.skip(why)
