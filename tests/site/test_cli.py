"""gnrasgiserve: option resolution (GenroPy's own order) and the troubleshooting errors."""

from __future__ import annotations

import socket
import subprocess

import pytest
from support import BIN, DEMO_PROJECT

from genropy_asgi.testing.local import GnrWorkspace, free_port

pytestmark = pytest.mark.site


@pytest.fixture(scope="module")
def port_workspace(tmp_path_factory):
    """A workspace whose siteconfig says port 9111 and no gnrdaemon running."""
    return GnrWorkspace.create(DEMO_PROJECT, root=tmp_path_factory.mktemp("cli-ws"),
                               wsgi={"debug": "False::B", "reload": "False::B", "port": "9111"})


def launch(workspace, monkeypatch, argv, **env):
    from genropy_asgi.launch.site import SiteLaunch

    for key, value in workspace.env(env).items():
        monkeypatch.setenv(key, value)
    return SiteLaunch(argv)


def run_cli(workspace, *argv, env=None, timeout=60):
    return subprocess.run([str(BIN / "gnrasgiserve"), *argv], env=workspace.env(env), capture_output=True,
                          text=True, timeout=timeout)


def test_port_from_siteconfig(port_workspace, monkeypatch):
    assert launch(port_workspace, monkeypatch, ["demo"]).port == 9111


def test_env_beats_siteconfig(port_workspace, monkeypatch):
    assert launch(port_workspace, monkeypatch, ["demo"], GNR_WSGI_OPT_port="9222").port == 9222


def test_cli_beats_env(port_workspace, monkeypatch):
    assert launch(port_workspace, monkeypatch, ["demo", "-p", "9333"], GNR_WSGI_OPT_port="9222").port == 9333


def test_defaults(demo_workspace, monkeypatch):
    resolved = launch(demo_workspace, monkeypatch, ["demo"])
    assert (resolved.port, resolved.host) == (8080, "0.0.0.0")
    assert resolved.debug is False  # the demo siteconfig says debug False::B
    assert resolved.reload is False


def test_site_name_forms(demo_workspace, monkeypatch):
    assert launch(demo_workspace, monkeypatch, ["-s", "demo"]).site_name == "demo"
    assert launch(demo_workspace, monkeypatch, [], GNR_CURRENT_SITE="demo").site_name == "demo"


def test_remotedb_without_name_uses_the_site_name(demo_workspace, monkeypatch):
    assert launch(demo_workspace, monkeypatch, ["demo", "--remotedb"]).full_site_name == "demo:demo"
    assert launch(demo_workspace, monkeypatch, ["demo", "--remotedb", "prod"]).full_site_name == "demo:prod"


def test_flags(demo_workspace, monkeypatch):
    resolved = launch(demo_workspace, monkeypatch, ["demo", "--reload", "-H", "127.0.0.1", "-o", "--remote_edit"])
    assert resolved.reload and resolved.options.open_browser and resolved.options.remote_edit
    assert launch(demo_workspace, monkeypatch, ["demo", "--nodebug"]).debug is False


def test_debug_on_a_public_host_warns(demo_workspace, monkeypatch):
    resolved = launch(demo_workspace, monkeypatch, ["demo"], GNR_WSGI_OPT_debug="True")
    assert resolved.debug
    assert any("console executes Python code" in w for w in resolved.warnings())
    quiet = launch(demo_workspace, monkeypatch, ["demo", "-H", "127.0.0.1"], GNR_WSGI_OPT_debug="True")
    assert quiet.warnings() == []


def test_error_site_name_is_required(demo_workspace):
    result = run_cli(demo_workspace)
    assert result.returncode == 1
    assert "site name is required" in result.stderr


def test_error_no_gnr_folder(demo_workspace, tmp_path):
    result = run_cli(demo_workspace, "demo", env={"GENRO_GNRFOLDER": str(tmp_path / "gnr")})
    assert result.returncode == 1
    assert "no ~/.gnr/ found" in result.stderr


def test_error_unknown_site(demo_workspace):
    result = run_cli(demo_workspace, "nosuchsite")
    assert result.returncode == 1
    assert "site 'nosuchsite' not found" in result.stderr


def test_error_no_root_py(tmp_path):
    """GenroPy's ``sites/<name>`` layout: the folder exists, its root.py does not."""
    workspace = GnrWorkspace.create(DEMO_PROJECT, root=tmp_path)
    (workspace.instance_dir / "root.py").unlink()
    (workspace.project_dir / "sites" / "demo").mkdir(parents=True)
    result = run_cli(workspace, "demo")
    assert result.returncode == 1
    assert "no root.py in site" in result.stderr


def test_error_gnrdaemon_not_reachable(port_workspace):
    """gnrdaemon's register (GENROPY_REGISTER=pyro) must answer; the default (local) needs none."""
    result = run_cli(port_workspace, "demo", "-p", str(free_port()), env={"GENROPY_REGISTER": "pyro"})
    assert result.returncode == 1
    assert f"gnrdaemon not reachable at 127.0.0.1:{port_workspace.daemon_port}" in result.stderr
    assert port_workspace.hmac_key not in result.stderr + result.stdout


def test_error_port_in_use(demo_workspace, gnr_daemon):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(demo_workspace, "demo", "-H", "127.0.0.1", "-p", str(port))
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr


def test_error_lines_are_one_line(demo_workspace):
    result = run_cli(demo_workspace, "nosuchsite")
    errors = [line for line in result.stderr.splitlines() if line.startswith("gnrasgiserve: error:")]
    assert len(errors) == 1
    assert "Traceback" not in result.stderr


def test_config_option_serves_without_gnrfolder_variable(demo_workspace, gnr_daemon):
    env = demo_workspace.env()
    env.pop("GENRO_GNRFOLDER")
    env.pop("VIRTUAL_ENV", None)
    port = free_port()
    process = subprocess.Popen([str(BIN / "gnrasgiserve"), "demo", "-c", str(demo_workspace.config_dir),
                                "-p", str(port), "-H", "127.0.0.1", "--nodebug"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        from genropy_asgi.testing.local import http_status, wait_for_port

        wait_for_port("127.0.0.1", port, 120, process)
        assert http_status(f"http://127.0.0.1:{port}/index", timeout=60) == 200
    finally:
        process.terminate()
        assert process.wait(30) == 0


def test_config_option_without_environment_xml(demo_workspace, tmp_path):
    result = run_cli(demo_workspace, "demo", "-c", str(tmp_path))
    assert result.returncode == 1
    assert f"-c {tmp_path}: no environment.xml in {tmp_path}" in result.stderr


def test_remaining_options_reach_genropy(demo_workspace, monkeypatch, tmp_path):
    resolved = launch(demo_workspace, monkeypatch, ["demo", "--restore", str(tmp_path), "--source_instance",
                                                    "other", "-a", "9555", "--ssl_cert", "c.pem", "--ssl_key", "k.pem"])
    options = resolved.options
    assert (options.restore, options.source_instance, options.async_port) == (str(tmp_path), "other", 9555)
    assert resolved.ssl_files == ("c.pem", "k.pem") and resolved.scheme == "https"


def test_ssl_without_certificate_files(demo_workspace, monkeypatch):
    from genropy_asgi.launch import LaunchError

    with pytest.raises(LaunchError, match="--ssl needs .*localhost.pem"):
        _ = launch(demo_workspace, monkeypatch, ["demo", "--ssl"]).ssl_files  # the property raises


def test_noclean_is_accepted_for_compatibility(demo_workspace, monkeypatch):
    """-n/--noclean (design document): GenroPy 26.10 has no clean-restart step, so it changes nothing."""
    import inspect

    from gnr.web.serverwsgi import Server

    assert "noclean" not in inspect.getsource(Server.__init__), "GenroPy has --noclean again: pass it through"
    for flag in ("-n", "--noclean"):
        resolved = launch(demo_workspace, monkeypatch, ["demo", flag, "--nodebug"])
        assert resolved.compat_flags == [flag] and flag not in resolved.argv
        assert resolved.site_name == "demo" and resolved.debug is False


def test_noclean_serves(demo_workspace, gnr_daemon):
    port = free_port()
    process = subprocess.Popen([str(BIN / "gnrasgiserve"), "demo", "-n", "-p", str(port), "-H", "127.0.0.1",
                                "--nodebug"], env=demo_workspace.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        from genropy_asgi.testing.local import http_status, wait_for_port

        wait_for_port("127.0.0.1", port, 120, process)
        assert http_status(f"http://127.0.0.1:{port}/index", timeout=60) == 200
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "-n: accepted for compatibility" in output


def test_debugpy_is_genropys_or_one_line(demo_workspace, monkeypatch):
    """--debugpy as gnrwsgiserve: port 5678 unless given, the reloader off; without debugpy: one line."""
    assert launch(demo_workspace, monkeypatch, ["demo", "--debugpy", "--reload"]).debugpy_port == 5678
    assert launch(demo_workspace, monkeypatch, ["demo", "--debugpy", "--reload"]).reload is False
    assert launch(demo_workspace, monkeypatch, ["demo", "--debugpy-port", "6000"]).debugpy_port == 6000
    assert launch(demo_workspace, monkeypatch, ["demo", "--reload"]).debugpy_port is None
    import importlib.util

    if importlib.util.find_spec("debugpy") is None:
        result = run_cli(demo_workspace, "demo", "--debugpy")
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "gnrasgiserve: error: --debugpy: the debugpy package is not installed" in result.stderr


def test_every_option_of_the_help_is_in_the_readme_table():
    """``gnrasgiserve --help`` (GenroPy's parser) and the README's options table say the same options."""
    import re

    from support import REPO

    helped = subprocess.run([str(BIN / "gnrasgiserve"), "--help"], capture_output=True, text=True, timeout=60)
    options = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", helped.stdout)) - {"--help"}
    page = (REPO / "docs" / "gnrasgiserve.md").read_text(encoding="utf-8")
    table = page.split("## Options (identical to `gnrwsgiserve`)", 1)[1].split("Resolution order", 1)[0]
    missing = sorted(option for option in options if f"`{option}" not in table and f", {option}" not in table)
    assert not missing, f"options of gnrasgiserve --help missing from docs/gnrasgiserve.md's table: {missing}"
