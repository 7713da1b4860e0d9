"""What genropy_asgi.testing relies on in testcontainers beyond its public API: fails the
day testcontainers changes it (then change ``adopt_container`` / ``GenropyReady``)."""

from __future__ import annotations

import inspect

from testcontainers.core.container import DockerContainer
from testcontainers.core.waiting_utils import WaitStrategy

from genropy_asgi.testing.containers import adopt_container, wrapped_or_none
from genropy_asgi.testing.wait import GenropyReady


def test_a_container_adopted_is_the_one_testcontainers_drives():
    container = DockerContainer("any-image")
    assert wrapped_or_none(container) is None  # get_wrapped_container raises before start
    marker = object()
    adopt_container(container, marker)
    assert container.get_wrapped_container() is marker
    adopt_container(container, None)
    assert wrapped_or_none(container) is None


def test_start_creates_transfers_starts_then_waits():
    """The order GenropyAsgiContainer.start counts on: docker create, the copies, docker
    start, then the wait strategy set with waiting_for()."""
    source = inspect.getsource(DockerContainer.start)
    order = [source.index(step) for step in ("docker_client.create(", "_transfer_into_container(",
                                             "docker_client.start(", "_wait_strategy.wait_until_ready(self)")]
    assert order == sorted(order)


def test_wait_strategy_settings_our_subclass_reads():
    strategy = GenropyReady(8080).with_startup_timeout(42)
    assert isinstance(strategy, WaitStrategy)
    assert strategy._startup_timeout == 42 and strategy._poll_interval == 0.25
