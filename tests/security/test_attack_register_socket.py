"""Attacks on the way in that ``GENROPY_REGISTER=local`` adds: the web server's register,
served to the site's other programs over Pyro (pickle) on a Unix socket announced in
``sitedaemon.xml``. A client without the HMAC key is refused before anything is unpickled;
another user of the machine cannot even connect; a stale or foreign announcement is never
taken for ours."""

from __future__ import annotations

import os
import socket
import threading
import types

import Pyro4
import Pyro4.errors
import pytest

from genropy_asgi.compat import register_hosted

KEY = "the-site-key-" + "x" * 20


@pytest.fixture
def hosted(tmp_path, monkeypatch):
    from gnr.web.daemon import siteregister

    monkeypatch.setenv("GENRO_GNRFOLDER", str(tmp_path / "gnr"))
    monkeypatch.delenv("GENROPY_REGISTER_STORE", raising=False)
    (tmp_path / "gnr").mkdir()
    (tmp_path / "site").mkdir()
    site = types.SimpleNamespace(currentDomainIdentifier="attacked", site_path=str(tmp_path / "site"))
    register = register_hosted.HostedRegister(site, siteregister, KEY)
    register.register.setConfiguration()
    yield register
    register.stop()


def proxy(uri: str, key: str | None):
    made = Pyro4.Proxy(uri)
    made._pyroTimeout = 5
    if key is not None:
        made._pyroHmacKey = key
    return made


def test_the_right_key_is_served(hosted):
    with proxy(hosted.register_uri, KEY) as register:
        register.new_user(user="friend", user_tags="user")
        assert [u["user"] for u in register.users()] == ["friend"]
    assert hosted.calls.count >= 2


@pytest.mark.parametrize("key", [None, "", "a-wrong-key"])
def test_a_client_without_the_key_is_refused(hosted, key):
    before = hosted.calls.count
    with pytest.raises(Pyro4.errors.CommunicationError):
        with proxy(hosted.register_uri, key) as register:
            register.new_user(user="intruder", user_tags="superadmin")
    assert hosted.calls.count == before  # nothing reached the register
    with proxy(hosted.register_uri, KEY) as register:
        assert not [u for u in register.users() if u["user"] == "intruder"]


def test_another_user_cannot_connect_to_the_socket(hosted):
    path = hosted.socket_path
    assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    result: dict[str, BaseException | None] = {}

    def as_nobody() -> None:
        pid = os.fork()
        if pid == 0:  # the child drops to nobody and tries
            code = 0
            try:
                os.setgid(65534)
                os.setuid(65534)
                with socket.socket(socket.AF_UNIX) as client:
                    client.connect(path)
                code = 1  # connected: the attack worked
            except PermissionError:
                code = 0
            except BaseException:
                code = 2
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        result["code"] = os.waitstatus_to_exitcode(status)

    if os.getuid() != 0:
        pytest.fail("this attack needs root to become another user (CI runs as root)")
    thread = threading.Thread(target=as_nobody)
    thread.start()
    thread.join(30)
    assert result.get("code") == 0, "another user reached the register's socket"


def test_a_stale_announcement_is_not_trusted(tmp_path):
    site = types.SimpleNamespace(site_path=str(tmp_path), currentDomainIdentifier="attacked")
    (tmp_path / "sitedaemon.xml").write_text(
        '<GenRoBag><params pid="999999999::L" genropy_asgi="True::B" '
        'register_uri="PYRO:SiteRegister@./u:/tmp/elsewhere.sock"/></GenRoBag>')
    with pytest.raises(RuntimeError, match="no web server announced"):
        register_hosted.wait_for_announcement(site, 0.5)
    (tmp_path / "sitedaemon.xml").write_text(  # a live pid, but not an announcement of ours
        f'<GenRoBag><params pid="{os.getpid()}::L" register_uri="PYRO:SiteRegister@./u:/tmp/x.sock"/></GenRoBag>')
    with pytest.raises(RuntimeError, match="no web server announced"):
        register_hosted.wait_for_announcement(site, 0.5)


def test_another_pods_announcement_on_a_shared_site_folder_is_not_followed(tmp_path):
    """A site folder on a volume several pods mount: a pid written by another pod means nothing here."""
    site = types.SimpleNamespace(site_path=str(tmp_path), currentDomainIdentifier="attacked")
    (tmp_path / "sitedaemon.xml").write_text(
        f'<GenRoBag><params pid="{os.getpid()}::L" host="another-pod" genropy_asgi="True::B" '
        'register_uri="PYRO:SiteRegister@./u:/tmp/x.sock"/></GenRoBag>')
    with pytest.raises(RuntimeError, match="no web server announced"):
        register_hosted.wait_for_announcement(site, 0.5)
    (tmp_path / "sitedaemon.xml").write_text(
        f'<GenRoBag><params pid="{os.getpid()}::L" host="{socket.gethostname()}" genropy_asgi="True::B" '
        'register_uri="PYRO:SiteRegister@./u:/tmp/x.sock"/></GenRoBag>')
    register_hosted.wait_for_announcement(site, 0.5)  # this host's, alive: followed
