"""The image's scale-out contract with plain ``docker run``, no chart: PostgreSQL, mode
``daemon`` (GNR_DAEMON_BIND=0.0.0.0, a shared key), mode ``async`` and two web containers
(GNR_DAEMON_HOST, GENROPY_ASYNC_ADDRESS) on one network (``genropy_asgi.testing.topology``).
The checks are the chart test's (``scaled_checks``): one login valid through every web
container, an upload through one served by the other, a live update across them, and a
web container or the register (gnrdaemon, or Valkey with ``GENROPY_REGISTER=redis``)
restarted without logging anyone out."""

from __future__ import annotations

import os

import pytest
from scaled_checks import assert_live_update_across, logged_in_page, served, through, upload_proof
from support import no_leftovers  # noqa: F401  (autouse fixture)

from genropy_asgi.testing.topology import Topology

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("register", ["pyro", "redis"])
def test_the_image_contract_without_the_chart(docker, image, register):
    topology = Topology(docker, image, os.environ.get("GENROPY_ASGI_POSTGRES_IMAGE", "postgres:17"))
    try:
        web0, web1 = topology.scaled(2, register=register)
        page = logged_in_page(web0, topology.admin_password)
        assert through(page, web1).rpc("whoami") == "admin"
        file_url = upload_proof(page)
        assert served(web1, file_url)
        assert_live_update_across(web0, web1)
        restarted = topology.named("web-1")
        restarted.restart(timeout=60)
        web1 = topology.ready(restarted)  # a new published port
        assert through(page, web1).rpc("whoami") == "admin" and served(web1, file_url)
        topology.named("gnrdaemon" if register == "pyro" else "valkey").restart(timeout=30)
        assert through(page, web1).rpc("whoami") == "admin"
        if register == "redis":  # no gnrdaemon shared, none needed
            assert not [c for c in topology.containers if "gnrdaemon" in c.name]
    finally:
        topology.close()
