"""Attacks on the way in that ``GENROPY_REGISTER=redis`` adds: the register's objects in a Redis
server every web process unpickles from. Against a real redis-server: a value written by
someone without the site's key is never unpickled (a payload that would run a command stays
inert); a signed value moved to another object (another user's connection) is refused; a
tampered byte is refused; a client without the server's password reaches nothing; the URL and
password never show in the start's error line."""

from __future__ import annotations

import os
import pickle
import subprocess

import pytest
import redis
from support import redis_server as make_redis_server

from genropy_asgi.compat import register_redis

KEY = "the-site-key-" + "y" * 20


class Site:
    def __init__(self, name: str) -> None:
        self.currentDomainIdentifier = name


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    made = make_redis_server(tmp_path_factory.mktemp("redis-attack"))
    yield made
    made.stop()


@pytest.fixture
def site(server, request):
    from gnr.web.daemon import siteregister

    name = request.node.name[:40]
    shared = register_redis.SharedRegister(Site(name), siteregister, KEY, client=server.client())
    proxy = shared.proxy
    for user, connection, page in (("alice", "c-alice", "p-alice"), ("admin", "c-admin", "p-admin")):
        proxy.new_user(user=user, user_tags="admin" if user == "admin" else "user", user_id=user, user_name=user)
        proxy.new_connection(connection, connection_name="x", user=user, user_id=user, user_name=user,
                             user_tags="admin" if user == "admin" else "user")
        proxy.new_page(page, pagename="index", connection_id=connection, user=user)
    return shared


class Command:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def raw(server) -> redis.Redis:
    return server.client()


def fresh_view(server, shared):
    """Another process's view (an empty cache): what a new web pod reads."""
    from gnr.web.daemon import siteregister

    return register_redis.SharedRegister(Site(shared.sitename), siteregister, KEY, client=server.client())


def test_a_pickle_written_without_the_key_is_never_unpickled(server, site, tmp_path):
    marker = tmp_path / "ran"
    key = site.store.object_key("connection:items", "c-alice")
    for tag in (b"\0" * 32, os.urandom(32)):
        raw(server).hset(key, mapping={"v": "9" * 18, "b": tag + pickle.dumps(Command(str(marker)))})
        assert fresh_view(server, site).proxy.connection("c-alice") is None
        assert not marker.exists()


def test_a_signed_value_moved_to_another_object_is_refused(server, site):
    """Alice copies admin's connection item over her own: her session would become admin's."""
    admin = site.store.object_key("connection:items", "c-admin")
    alice = site.store.object_key("connection:items", "c-alice")
    stolen = raw(server).hget(admin, "b")
    raw(server).hset(alice, mapping={"v": "8" * 18, "b": stolen})
    seen = fresh_view(server, site).proxy.connection("c-alice")
    assert seen is None or seen["user"] == "alice"


def test_a_tampered_byte_is_refused(server, site):
    key = site.store.object_key("user:items", "alice")
    value = bytearray(raw(server).hget(key, "b"))
    position = bytes(value).find(b"alice", 32)
    value[position:position + 5] = b"admin"
    raw(server).hset(key, mapping={"v": "7" * 18, "b": bytes(value)})
    assert fresh_view(server, site).proxy.user("alice") is None


def test_no_password_reaches_nothing(server):
    stranger = redis.Redis(port=server.port)
    with pytest.raises(redis.exceptions.AuthenticationError):
        stranger.keys("*")


def test_the_start_line_never_shows_the_url_or_the_password(server, tmp_path):
    from support import BIN, DEMO_PROJECT

    from genropy_asgi.testing.local import GnrWorkspace

    workspace = GnrWorkspace.create(DEMO_PROJECT, root=tmp_path / "ws")
    try:
        secret_url = f"redis://:{server.password}x@127.0.0.1:{server.port}/0"  # a wrong password in the URL
        env = {**workspace.env(), "GENROPY_REGISTER": "redis", "GENROPY_REDIS_URL": secret_url}
        done = subprocess.run([str(BIN / "gnrasgiserve"), workspace.site_name, "-p", "1", "--nodebug"], env=env,
                              capture_output=True, text=True, timeout=120, cwd=str(workspace.root))
        assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert "GENROPY_REGISTER=redis: the register's server (GENROPY_REDIS_URL) does not answer" in done.stderr
        assert server.password not in done.stderr and secret_url not in done.stderr
    finally:
        workspace.remove()
