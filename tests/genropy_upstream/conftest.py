"""Each of GenroPy's own register tests here runs once per register backend of ours: the test
modules' ``SiteRegister`` is replaced by how that backend constructs the register."""

from __future__ import annotations

import secrets

import pytest

from support import redis_server as make_redis_server

BACKENDS = ("gnrdaemon-and-local", "redis")  # pyro and local run GenroPy's own class in one process


@pytest.fixture(scope="session")
def redis_for_oracle(tmp_path_factory):
    server = make_redis_server(tmp_path_factory.mktemp("redis-oracle"))
    yield server
    server.stop()


@pytest.fixture(autouse=True, params=BACKENDS)
def register_backend(request, monkeypatch):
    from gnr.web.daemon import siteregister

    if request.param == "redis":
        from genropy_asgi.compat import redis_objects, register_redis

        client = request.getfixturevalue("redis_for_oracle").client()
        prefix = f"oracle:{{{secrets.token_hex(6)}}}"  # a register of its own for each test

        def construct(server, sitename=None, storage_path=None):
            store = redis_objects.Store(client, prefix, b"oracle-key")
            return register_redis.build_site_register(siteregister, store, "oracle-key", sitename)

        monkeypatch.setattr(request.module, "SiteRegister", construct)
    return request.param
