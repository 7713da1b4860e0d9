"""gnrdaemon restarted under a running site (the image's daemon program, real processes).

With ``GENROPY_REGISTER_STORE`` the registers are saved at SIGTERM and restored when the
site reconnects, which it does by itself: a logged-in user keeps their page and login.
Without it (GenroPy's own behaviour) the same user is logged out: the control that
shows the first test can fail.
"""

from __future__ import annotations

import signal
import sys

import pytest
from support import DEMO_PROJECT, start_server

from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.local import GnrWorkspace, ManagedProcess, wait_for_port


def start_daemon(workspace: GnrWorkspace, extra: dict, name: str) -> ManagedProcess:
    daemon = ManagedProcess([sys.executable, "-m", "genropy_asgi.container.gnrdaemon"], workspace.env(extra),
                            workspace.root / f"{name}.log")
    wait_for_port("127.0.0.1", workspace.daemon_port, 60, daemon.process)
    return daemon


def log_in(page: GenropyPage, password: str) -> None:
    page.rpc("login_doLogin", login=f"<GenRoBag><user>tester</user><password>{password}</password></GenRoBag>::BAG",
             rootenv="<GenRoBag></GenRoBag>::BAG")


@pytest.fixture
def workspace(tmp_path):
    workspace = GnrWorkspace.create(DEMO_PROJECT, root=tmp_path / "ws",
                                    xml_users={"tester": {"pwd": "restart-Pass-1", "tags": "admin,user"}})
    workspace.db_setup()
    yield workspace
    workspace.remove()


def restart_under_a_logged_in_user(workspace: GnrWorkspace, extra: dict) -> str:
    """Log in, restart gnrdaemon (SIGTERM, start again), then ask who the same page's user is."""
    daemon = start_daemon(workspace, extra, "gnrdaemon-1")
    server = start_server(workspace, "gnrasgiserve", "--nodebug",
                          env={"GENROPY_DAEMON_WAIT": "20", "GENROPY_REGISTER": "pyro"})  # gnrdaemon's register
    try:
        page = GenropyPage(server.base_url)
        log_in(page, "restart-Pass-1")
        assert page.rpc("whoami") == "tester"
        daemon.signal(signal.SIGTERM)
        assert daemon.process.wait(30) == 0, daemon.output()[-3000:]
        daemon = start_daemon(workspace, extra, "gnrdaemon-2")
        response = page.rpc_raw("whoami")  # the same page, cookies and page_id of before
        return response.text if response.status_code == 200 else f"HTTP {response.status_code}"
    finally:
        server.stop()
        daemon.stop()


def test_a_daemon_restart_keeps_the_login_and_the_site_reconnects(workspace, tmp_path):
    store = tmp_path / "registers"
    answer = restart_under_a_logged_in_user(workspace, {"GENROPY_REGISTER_STORE": str(store)})
    assert ">tester<" in answer, answer[-2000:]
    assert (store / f"{workspace.site_name}.pik").is_file()


def test_without_the_store_a_daemon_restart_logs_the_user_out(workspace):
    answer = restart_under_a_logged_in_user(workspace, {})
    assert ">tester<" not in answer

