"""A stop's budgets agree and derive from one setting, GENROPY_SHUTDOWN_TIMEOUT.

The server drains in-flight requests for that long after SIGTERM; supervisord waits
SERVER_STOP_MARGIN more before it kills the server; the container's stop (compose's
stop_grace_period, the chart's terminationGracePeriodSeconds after its preStop pause)
allows CONTAINER_STOP_MARGIN more, so the other programs stop cleanly too.
"""

from __future__ import annotations

import re

import pytest
import yaml
from support import REPO
from test_launch_plan import plan

from genropy_asgi import settings

DEFAULT_DRAIN = settings.setting("GENROPY_SHUTDOWN_TIMEOUT").default


def test_the_margins_are_ordered():
    """supervisord kills the server before the container's own deadline."""
    assert settings.SERVER_STOP_MARGIN < settings.CONTAINER_STOP_MARGIN


@pytest.mark.parametrize("drain", ["30", "60", "7.5"])
def test_supervisord_waits_the_drain_plus_its_margin(drain):
    env = plan({"GENROPY_SHUTDOWN_TIMEOUT": drain}).env
    assert int(env["GENROPY_STOP_WAIT"]) == -(-float(drain) // 1) + settings.SERVER_STOP_MARGIN


def test_compose_gives_the_image_default_drain_its_budget():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    periods = {name: service["stop_grace_period"] for name, service in compose["services"].items()
               if "stop_grace_period" in service}
    assert periods, "no service sets stop_grace_period"
    for name, period in periods.items():
        assert re.fullmatch(r"\d+s", period), (name, period)
        assert int(period[:-1]) == settings.stop_grace_seconds(DEFAULT_DRAIN), name
    for name, service in compose["services"].items():  # the drain itself is the image's default
        assert "GENROPY_SHUTDOWN_TIMEOUT" not in (service.get("environment") or {}), name
