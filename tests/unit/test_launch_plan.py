"""The container's decisions (genropy_asgi/container/plan.py): env + files -> plan, no Docker."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

import pytest

from genropy_asgi.container.plan import IMAGE_UID, MASK, PlanError, make_plan, unprivileged_uid

DEMO_ROOT_PY = "/opt/genropy/projects/demo/instances/demo/root.py"


class FakeFiles:
    """Folders and files of a pretend container: the demo project is there."""

    def __init__(self, files=None, unreadable=()):
        self.files = {DEMO_ROOT_PY: "# the project's own", **(files or {})}
        self.unreadable = set(unreadable)
        self.dirs = {"/opt/genropy/projects": ["demo"], "/opt/genropy/projects/demo/instances": ["demo"]}

    def read(self, path):
        if path in self.unreadable:
            raise PermissionError(13, "Permission denied")
        return self.files.get(path)

    def list_dir(self, path):
        return self.dirs.get(path)


def plan(env=None, args=None, files=None, **kwargs):
    return make_plan(env or {}, files or FakeFiles(), args or [], new_secret=lambda: "random-hmac-key", **kwargs)


def error(env=None, args=None, files=None, **kwargs) -> str:
    with pytest.raises(PlanError) as caught:
        plan(env, args, files, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_defaults_serve_the_demo_on_sqlite():
    p = plan()
    assert (p.mode, p.site, p.port, p.workers, p.debug) == ("serve", "demo", 8080, 1, False)
    assert p.command == ["/opt/venv/bin/supervisord", "-c", "/opt/genropy-asgi/config/supervisord.conf"]
    assert p.server_command == ["/opt/venv/bin/gnrasgiserve", "demo", "-H", "0.0.0.0", "-p", "8080", "--nodebug"]
    assert p.db is None and p.db_setup is True
    assert p.env["GENRO_GNRFOLDER"] == "/var/lib/genropy/gnr"
    assert 'debug="False::B"' in p.files["siteconfig/default.xml"]


def test_daemon_gets_a_random_key_on_loopback():
    p = plan()
    assert '<gnrdaemon host="127.0.0.1" port="40404" hmac_key="random-hmac-key"/>' in p.files["environment.xml"]
    assert "random-hmac-key" in p.secrets


def test_postgres_connection_goes_to_the_config_file_not_argv_or_env():
    p = plan({"GNR_DB_IMPLEMENTATION": "postgres", "GNR_DB_HOST": "db", "GNR_DB_USER": "gnr",
              "GNR_DB_PASSWORD": "s3cret", "GNR_DB_PORT": "5433"})
    db_xml = p.files["instanceconfig/default.xml"]
    assert 'implementation="postgres"' in db_xml and 'password="s3cret"' in db_xml and 'port="5433"' in db_xml
    assert "s3cret" not in " ".join(p.command + p.server_command)
    assert "s3cret" not in json.dumps(p.env) and "GNR_DB_PASSWORD" not in p.env
    assert (p.db.host, p.db.port, p.db.password) == ("db", 5433, "s3cret")


def test_every_secret_works_as_a_file():
    files = FakeFiles({"/run/secrets/db": "from-file\n", "/run/secrets/hmac": "hmac-from-file",
                       "/run/secrets/admin": "adminpw", "/run/secrets/ssh": "sshpw", "/run/secrets/rdb": "rdbpw",
                       "/run/secrets/redis-url": "redis://valkey:6379/0", "/run/secrets/redis": "redispw"})
    p = plan({"GENROPY_REGISTER": "redis", "GENROPY_REDIS_URL_FILE": "/run/secrets/redis-url",
              "GENROPY_REDIS_PASSWORD_FILE": "/run/secrets/redis",
              "GNR_DB_IMPLEMENTATION": "postgres", "GNR_DB_HOST": "db", "GNR_DB_USER": "gnr",
              "GNR_DB_PASSWORD_FILE": "/run/secrets/db", "GNR_DAEMON_HMAC_KEY_FILE": "/run/secrets/hmac",
              "GNR_ADMIN_PASSWORD_FILE": "/run/secrets/admin",
              "GNR_REMOTEDB_prod_SSH_HOST": "bastion", "GNR_REMOTEDB_prod_SSH_USER": "me",
              "GNR_REMOTEDB_prod_SSH_PASSWORD_FILE": "/run/secrets/ssh", "GNR_REMOTEDB_prod_DB_NAME": "sales",
              "GNR_REMOTEDB_prod_DB_USER": "ro", "GNR_REMOTEDB_prod_DB_PASSWORD_FILE": "/run/secrets/rdb"},
             files=files)
    everything = "".join(p.files.values())
    for value in ("from-file", "hmac-from-file", "sshpw", "rdbpw", "redis://valkey:6379/0", "redispw"):
        assert value in everything
        assert value in p.secrets
    assert "adminpw" in p.secrets and accepts(p, "adminpw")  # the admin's: GenroPy's salted form
    assert 'password="from-file"' in everything  # trailing newline of the file stripped


def test_print_config_masks_every_secret():
    p = plan({"GNR_DB_IMPLEMENTATION": "postgres", "GNR_DB_HOST": "db", "GNR_DB_USER": "gnr",
              "GNR_DB_PASSWORD": "s3cret", "GNR_ADMIN_PASSWORD": "adminpw"}, ["print-config"])
    text = p.as_json()
    assert "s3cret" not in text and "adminpw" not in text and "random-hmac-key" not in text
    assert MASK in text
    assert json.loads(text)["mode"] == "print-config"
    shown = json.loads(text)["settings"]  # every setting of the table, as read
    assert shown["GNR_DB_PASSWORD"] == MASK and shown["GNR_DB_HOST"] == "db" and shown["GENROPY_WORKERS"] == "auto"
    assert json.loads(text)["workers"] == 1  # auto without Redis: one process on its own register


def test_old_names_are_read_said_and_not_passed_on():
    p = plan({"GENROPY_ASGI_WSGI_THREADS": "8", "GENROPY_ASGI_SHUTDOWN_TIMEOUT": "12"})
    assert p.env["GENROPY_WSGI_THREADS"] == "8" and p.env["GENROPY_SHUTDOWN_TIMEOUT"] == "12"
    assert "GENROPY_ASGI_WSGI_THREADS" not in p.env
    assert "GENROPY_ASGI_WSGI_THREADS is deprecated: use GENROPY_WSGI_THREADS" in p.notes


def test_remotedb_through_ssh_keeps_the_tunnel():
    p = plan({"GNR_REMOTEDB": "prod", "GNR_REMOTEDB_prod_SSH_HOST": "bastion.example", "GNR_REMOTEDB_prod_SSH_USER": "me",
              "GNR_REMOTEDB_prod_SSH_PASSWORD": "sshpw", "GNR_REMOTEDB_prod_DB_NAME": "sales",
              "GNR_REMOTEDB_prod_DB_USER": "ro", "GNR_REMOTEDB_prod_DB_PASSWORD": "rdbpw",
              "GNR_REMOTEDB_prod_DB_PORT": "6543"})
    xml = p.files["instanceconfig/default.xml"]
    entry = xml[xml.index("<prod"):]
    assert 'ssh_host="me@bastion.example"' in entry and 'ssh_password="sshpw"' in entry
    assert 'forwarded_host="127.0.0.1"' in entry
    assert ' port=' not in entry.split("/>")[0]  # a port on the entry would bypass the tunnel
    assert '<db host="127.0.0.1" port="6543"/>' in xml  # the forwarded port, GenroPy's way
    assert p.server_command[-2:] == ["--remotedb", "prod"]
    assert p.db_setup is False  # never migrate somebody's remote database implicitly


def test_remotedb_without_ssh_is_a_plain_connection():
    p = plan({"GNR_REMOTEDB_test_DB_HOST": "pg2", "GNR_REMOTEDB_test_DB_NAME": "t", "GNR_REMOTEDB_test_DB_USER": "u"})
    assert '<test implementation="postgres" dbname="t" user="u" host="pg2" port="5432"/>' in p.files["instanceconfig/default.xml"]


def test_workers_switch_to_gunicorn():
    p = plan({"GENROPY_WORKERS": "3"})
    assert p.server_command[0] == "/opt/venv/bin/gunicorn"
    assert p.env["GENROPY_WORKERS"] == "3"
    assert json.loads(p.env["GENROPY_ASGI_ARGV"])[0] == "demo"


def test_mounted_siteconfig_is_kept_but_the_daemon_is_ours():
    siteconfig = ('<GenRoBag><wsgi port="9000" debug="False::B"/><gui css_theme="mimi"/>'
                  '<gnrdaemon host="0.0.0.0" port="1" hmac_key="known"/></GenRoBag>')
    p = plan(files=FakeFiles({"/etc/genropy/siteconfig.xml": siteconfig}))
    xml = p.files["siteconfig/default.xml"]
    assert 'port="9000"' in xml and 'css_theme="mimi"' in xml
    assert 'hmac_key="known"' not in xml and 'host="0.0.0.0"' not in xml
    assert p.port == 9000


def test_env_beats_the_siteconfig_port():
    siteconfig = '<GenRoBag><wsgi port="9000"/></GenRoBag>'
    assert plan({"GNR_WSGI_OPT_port": "9100"}, files=FakeFiles({"/etc/genropy/siteconfig.xml": siteconfig})).port == 9100


def test_debug_needs_an_explicit_yes():
    assert "GENROPY_ALLOW_DEBUG=true" in error({"GNR_WSGI_OPT_debug": "True"})
    siteconfig = '<GenRoBag><wsgi debug="True::B"/></GenRoBag>'
    assert "werkzeug's console" in error(files=FakeFiles({"/etc/genropy/siteconfig.xml": siteconfig}))
    p = plan({"GNR_WSGI_OPT_debug": "True", "GENROPY_ALLOW_DEBUG": "true"})
    assert p.debug and "--nodebug" not in p.server_command


@pytest.mark.parametrize("env,args,expected", [
    ({}, ["frobnicate"], "unknown mode or command 'frobnicate'"),
    ({"GENROPY_WORKERS": "many"}, [], "GENROPY_WORKERS='many': expected auto or a whole number from 1 to 64"),
    ({"GNR_WSGI_OPT_port": "80000"}, [], "GNR_WSGI_OPT_port='80000': expected a whole number"),
    ({"GENROPY_DB_WAIT": "soon"}, [], "GENROPY_DB_WAIT='soon': expected a number of seconds"),
    ({"GNR_DB_IMPLEMENTATION": "mysql"}, [], "GNR_DB_IMPLEMENTATION='mysql': expected one of sqlite, postgres"),
    ({"GNR_DB_IMPLEMENTATION": "postgres", "GNR_DB_USER": "u"}, [],
     "GNR_DB_HOST is required when GNR_DB_IMPLEMENTATION=postgres"),
    ({"GNR_DB_HOST": "db"}, [], "GNR_DB_HOST/GNR_DB_USER are set but GNR_DB_IMPLEMENTATION is not"),
    ({"GNR_DB_PASSWORD": "a", "GNR_DB_PASSWORD_FILE": "/x"}, [], "GNR_DB_PASSWORD and GNR_DB_PASSWORD_FILE are both set"),
    ({"GNR_DB_PASSWORD_FILE": "/missing"}, [], "GNR_DB_PASSWORD_FILE=/missing: no such file"),
    ({"GNR_DAEMON_HMAC_KEY_FILE": "/locked"}, [], "GNR_DAEMON_HMAC_KEY_FILE=/locked: cannot read (Permission denied)"),
    ({"GNR_CURRENT_SITE": "nosuch"}, [], "GNR_CURRENT_SITE='nosuch': no instance of that name in GENROPY_PROJECTS"),
    ({"GNR_CURRENT_SITE": "../etc"}, [], "GNR_CURRENT_SITE='../etc': expected an instance name"),
    ({"GENROPY_PROJECTS": "/nowhere"}, [], "GENROPY_PROJECTS: /nowhere is not a folder"),
    ({"GENROPY_SITECONFIG": "/etc/genropy/missing.xml"}, [], "GENROPY_SITECONFIG=/etc/genropy/missing.xml: no such file"),
    ({"GNR_REMOTEDB": "prod"}, [], "GNR_REMOTEDB='prod': no GNR_REMOTEDB_prod_* variables"),
    ({"GNR_REMOTEDB_prod_DB_NAME": "x"}, [], "GNR_REMOTEDB_prod_DB_USER is required for the remote database prod"),
    ({"GNR_REMOTEDB_prod_DB_NAME": "x", "GNR_REMOTEDB_prod_DB_USER": "u", "GNR_REMOTEDB_prod_SSH_HOST": "h"}, [],
     "GNR_REMOTEDB_prod_SSH_USER is required with GNR_REMOTEDB_prod_SSH_HOST"),
    ({"GENROPY_DB_SETUP": "maybe"}, [], "GENROPY_DB_SETUP='maybe': expected one of auto, always, never"),
    ({"GENROPY_ALLOW_DEBUG": "perhaps"}, [], "GENROPY_ALLOW_DEBUG='perhaps': expected true or false"),
])
def test_bad_input_is_one_line_naming_the_variable(env, args, expected):
    files = FakeFiles(unreadable={"/locked"})
    assert error(env, args, files, command_exists=lambda name: False).startswith(expected)


def test_siteconfig_that_is_not_xml():
    files = FakeFiles({"/etc/genropy/siteconfig.xml": "<GenRoBag><wsgi></GenRoBag>"})
    assert error(files=files).startswith("GENROPY_SITECONFIG=/etc/genropy/siteconfig.xml: not valid XML")


def test_other_modes():
    assert plan(args=["daemon"]).command == ["/opt/venv/bin/python", "-m", "genropy_asgi.container.gnrdaemon"]
    assert plan(args=["dbsetup"]).command == ["/opt/venv/bin/gnr", "db", "setup", "demo"]
    assert plan(args=["shell"]).command == ["/bin/bash"]
    assert plan(args=["gnr", "db", "migrate"]).command == ["gnr", "db", "migrate"]
    assert plan(args=["print-config"]).db_setup is False


def test_secret_variables_never_reach_the_children():
    p = plan({"GNR_DB_IMPLEMENTATION": "postgres", "GNR_DB_HOST": "db", "GNR_DB_USER": "u",
              "GNR_DB_PASSWORD": "pw", "GNR_DAEMON_HMAC_KEY": "k", "GNR_DB_DSN": "postgresql://u:pw@db/x",
              "MY_SERVICE_SECRET": "x"})
    assert not {"GNR_DB_PASSWORD", "GNR_DAEMON_HMAC_KEY", "GNR_DB_DSN", "MY_SERVICE_SECRET"} & set(p.env)


def test_the_shipped_example_siteconfig_is_valid_input():
    example = (Path(__file__).resolve().parents[2] / "config" / "siteconfig.example.xml").read_text()
    p = plan(files=FakeFiles({"/etc/genropy/siteconfig.xml": example}))
    assert p.port == 8080 and not p.debug
    assert 'css_theme="mimi"' in p.files["siteconfig/default.xml"]


# -- GenroPy's process set (async server, scheduler, workers) -------------------

def siteconfig_files(wsgi_attrs: str) -> FakeFiles:
    return FakeFiles({"/etc/genropy/siteconfig.xml": f"<GenRoBag><wsgi {wsgi_attrs}/></GenRoBag>"})


def test_async_server_on_by_default_and_supervised_not_spawned():
    p = plan()
    assert p.env["GENROPY_ASYNC_AUTOSTART"] == "true"
    assert p.env["GENROPY_ASYNC_SERVER"] == "external"
    assert 'websockets="True::B"' in p.files["siteconfig/default.xml"]
    assert p.env["GENROPY_SCHEDULER_AUTOSTART"] == "false" and p.env["GENROPY_TASKWORKER_AUTOSTART"] == "false"
    assert "<tasks" not in p.files["environment.xml"]


def test_async_server_off_turns_websockets_off_for_the_pages():
    p = plan({"GENROPY_ASYNC_SERVER": "false"})
    assert (p.env["GENROPY_ASYNC_AUTOSTART"], p.env["GENROPY_ASYNC_SERVER"]) == ("false", "off")
    assert 'websockets="False::B"' in p.files["siteconfig/default.xml"]


@pytest.mark.parametrize(("attrs", "env", "expected"), [
    ('websockets="false"', {}, "false"),  # the mounted siteconfig's choice is the default
    ('websockets="False::B"', {"GENROPY_ASYNC_SERVER": "on"}, "true"),  # the variable wins
    ("", {}, "true"),
])
def test_mounted_siteconfig_websockets_is_the_default(attrs, env, expected):
    assert plan(env, files=siteconfig_files(attrs)).env["GENROPY_ASYNC_AUTOSTART"] == expected


def test_tasks_switch_scheduler_and_workers_on_loopback():
    p = plan({"GENROPY_TASKS": "true", "GENROPY_TASK_WORKERS": "3", "GNR_SCHEDULER_PORT": "15000"})
    assert '<tasks async_impl="true"/>' in p.files["environment.xml"]
    assert p.env["GENROPY_SCHEDULER_AUTOSTART"] == "true" and p.env["GENROPY_TASKWORKER_AUTOSTART"] == "true"
    assert p.env["GENROPY_TASK_WORKER_SLOTS"] == "3"
    assert (p.env["GNR_SCHEDULER_HOST"], p.env["GNR_SCHEDULER_URL"]) == ("127.0.0.1", "http://127.0.0.1:15000")


def test_zero_workers_keeps_the_scheduler_only():
    p = plan({"GENROPY_TASKS": "1", "GENROPY_TASK_WORKERS": "0"})
    assert p.env["GENROPY_SCHEDULER_AUTOSTART"] == "true"
    assert (p.env["GENROPY_TASKWORKER_AUTOSTART"], p.env["GENROPY_TASK_WORKER_SLOTS"]) == ("false", "1")


def test_workers_without_tasks_is_noted():
    assert any("GENROPY_TASKS is off" in note for note in plan({"GENROPY_TASK_WORKERS": "2"}).notes)


@pytest.mark.parametrize(("env", "expected"), [
    ({"GENROPY_ASYNC_SERVER": "maybe"}, "GENROPY_ASYNC_SERVER='maybe': expected one of on, off, spawn, external"),
    ({"GENROPY_TASKS": "2"}, "GENROPY_TASKS='2': expected true or false"),
    ({"GENROPY_TASK_WORKERS": "99"}, "GENROPY_TASK_WORKERS"),
    ({"GENROPY_TASK_WORKERS": "two"}, "GENROPY_TASK_WORKERS"),
    ({"GNR_SCHEDULER_HOST": "0.0.0.0"}, "GNR_SCHEDULER_HOST='0.0.0.0': the task scheduler has no authentication"),
    ({"GNR_SCHEDULER_URL": "http://elsewhere:1", "GENROPY_TASKS": "true"}, "GNR_SCHEDULER_URL is set with GENROPY_TASKS"),
    ({"GNR_SCHEDULER_URL": "elsewhere:1"}, "GNR_SCHEDULER_URL='elsewhere:1': expected an http:// URL"),
])
def test_bad_process_switches_are_one_line(env, expected):
    assert error(env).startswith(expected)


def test_programs_get_the_remote_database_too():
    env = {"GNR_REMOTEDB": "remote", "GNR_REMOTEDB_remote_DB_HOST": "db.example", "GNR_REMOTEDB_remote_DB_NAME": "demo",
           "GNR_REMOTEDB_remote_DB_USER": "u"}
    assert plan(env).env["GENROPY_SITE_SPEC"] == "demo:remote"
    assert plan().env["GENROPY_SITE_SPEC"] == "demo"


def test_root_becomes_the_instance_owner_or_the_image_user():
    assert unprivileged_uid(0, 1000) == 1000  # compose on a developer's clone
    assert unprivileged_uid(0, 0) == IMAGE_UID  # a root-owned clone: never GenroPy as root
    assert unprivileged_uid(0, None) == IMAGE_UID
    assert unprivileged_uid(1000, 0) is None  # already unprivileged: stays as it is


def test_check_mode_runs_nothing():
    checked = plan(args=["check"])
    assert checked.mode == "check" and checked.command == [] and not checked.db_setup


def test_task_workers_note_only_when_really_set():
    assert not plan({"GENROPY_TASK_WORKERS": ""}).notes  # compose's default passes it empty
    assert plan({"GENROPY_TASK_WORKERS": "2"}).notes


def test_malformed_request_limits_stop_the_plan():
    assert error({"GENROPY_MAX_FORM_BYTES": "big"}).startswith("GENROPY_MAX_FORM_BYTES='big': expected")
    assert error({"GENROPY_HEADER_TIMEOUT": "nan"}).startswith("GENROPY_HEADER_TIMEOUT='nan': expected")


def admin_entry(p) -> str:
    import re

    return re.search(r'pwd="([^"]+)"', p.files["instanceconfig/default.xml"]).group(1)


def accepts(p, password: str) -> bool:
    """GenroPy's own check of a login against the admin's configured ``pwd``."""
    from types import SimpleNamespace

    from gnr.app.gnrapp import GnrApp

    no_passpartout = SimpleNamespace(getAvatar=lambda *args, **kwargs: None)  # "user:password" logins
    return GnrApp.validatePassword(no_passpartout, password, pwd=admin_entry(p))


@pytest.mark.parametrize("password", ["pw-123456", "iwDZQtsOYzbSUbToRAflPkTOkTHZCv8m", "x" * 65, "a:b"])
def test_the_admin_password_logs_in_whatever_its_length_and_never_sits_in_plain_text(password):
    """GenroPy reads a 32-character pwd as an MD5 digest: the chart's random 32-character
    password could never log in while it was written as given."""
    p = plan({"GNR_ADMIN_PASSWORD": password})
    assert accepts(p, password) and not accepts(p, password + "!")
    assert password not in p.files["instanceconfig/default.xml"] and admin_entry(p) in p.secrets


def test_the_admin_gets_genropy_full_admin_tags():
    import inspect

    from gnr.app import gnrdeploy

    configured = plan({"GNR_ADMIN_PASSWORD": "pw-123456"}).files["instanceconfig/default.xml"]
    assert 'tags="superadmin,_DEV_,admin,user"' in configured
    assert "tags='superadmin,_DEV_,admin,user'" in inspect.getsource(gnrdeploy)  # initgenropy's own admin


def test_gnr_db_settings_replace_the_instance_db():
    files = plan({"GNR_DB_IMPLEMENTATION": "postgres", "GNR_DB_HOST": "pg", "GNR_DB_USER": "u"}).files
    instanceconfig = files["instanceconfig/default.xml"]
    assert '<genropy_asgi_db implementation="postgres" host="pg" user="u"/>' in instanceconfig
    assert "<db " not in instanceconfig


@pytest.mark.parametrize("env, expected", [
    ({"GENROPY_SHUTDOWN_TIMEOUT": "nan"}, "GENROPY_SHUTDOWN_TIMEOUT='nan': expected a number of seconds >= 0"),
    ({"GENROPY_SHUTDOWN_TIMEOUT": "inf"}, "GENROPY_SHUTDOWN_TIMEOUT='inf': expected a number of seconds >= 0"),
    ({"GENROPY_DB_WAIT": "nan"}, "GENROPY_DB_WAIT='nan': expected"),
    ({"GENROPY_WORKERS": "²"}, "GENROPY_WORKERS='²': expected auto or a whole number"),
    ({"GENROPY_CRASH_RESTARTS": "abc"}, "GENROPY_CRASH_RESTARTS='abc': expected a whole number"),
    ({"GENROPY_CRASH_WINDOW": "0"}, "GENROPY_CRASH_WINDOW='0': expected a number of seconds above 0"),
])
def test_values_that_used_to_slip_through(env, expected):
    assert error(env).startswith(expected)


@pytest.mark.parametrize("env, expected", [
    ({"GNR_DAEMON_PORT": "8080"}, "GNR_DAEMON_PORT=8080 is also GNR_WSGI_OPT_port (the web port)"),
    ({"GENROPY_TASKS": "true", "GNR_SCHEDULER_PORT": "8080"}, "GNR_SCHEDULER_PORT=8080 is also GNR_WSGI_OPT_port"),
    ({"GNR_WSGI_OPT_host": "999.1.1.1"}, "GNR_WSGI_OPT_host='999.1.1.1': expected an IP address"),
    ({"GNR_WSGI_OPT_host": "bad host"}, "GNR_WSGI_OPT_host='bad host': expected"),
])
def test_port_clashes_and_bad_hosts(env, expected):
    assert error(env).startswith(expected)


def test_good_hosts():
    for host in ("0.0.0.0", "127.0.0.1", "web-1.internal", "localhost"):
        assert plan({"GNR_WSGI_OPT_host": host}).env["GENROPY_BIND"] == f"{host}:8080"
    assert plan({"GNR_WSGI_OPT_host": "::"}).env["GENROPY_BIND"] == "[::]:8080"


def test_the_metrics_port_binds_where_the_web_port_does_unless_told():
    assert plan({}).env["GENROPY_METRICS_BIND"] == "0.0.0.0"
    assert plan({"GNR_WSGI_OPT_host": "::"}).env["GENROPY_METRICS_BIND"] == "::"
    assert plan({"GENROPY_METRICS_BIND": "127.0.0.1"}).env["GENROPY_METRICS_BIND"] == "127.0.0.1"
    assert error({"GENROPY_METRICS_BIND": "1.2.3"}).startswith("GENROPY_METRICS_BIND='1.2.3': expected an IP address")


def test_wrong_credentials_are_told_at_once():
    from genropy_asgi.container.database_steps import refused_credentials

    assert refused_credentials('connection to server at "pg" failed: FATAL:  password authentication failed '
                               'for user "genropy"')
    assert refused_credentials('FATAL:  role "nobody" does not exist')
    assert not refused_credentials('could not translate host name "pg" to address: Name or service not known')
    assert not refused_credentials("connection refused")


# -- scaled out: a shared gnrdaemon, the task workloads, the shared site data --------

SHARED = {"GNR_DAEMON_HMAC_KEY": "shared-key"}


def test_a_shared_daemon_listens_off_loopback_only_with_a_key():
    daemon = plan({**SHARED, "GNR_DAEMON_BIND": "0.0.0.0"}, args=["daemon"])
    assert daemon.files["environment.xml"].count('host="0.0.0.0"') == 1
    assert daemon.env["GENROPY_DAEMON_ADDRESS"] == "127.0.0.1:40404"
    assert error({"GNR_DAEMON_BIND": "0.0.0.0"}, args=["daemon"]).startswith(
        "GNR_DAEMON_BIND='0.0.0.0': gnrdaemon off loopback needs GNR_DAEMON_HMAC_KEY")
    assert plan(args=["daemon"]).files["environment.xml"].count('host="127.0.0.1"') == 1  # loopback: random key
    assert error({"GNR_DAEMON_BIND": "999.1.1.1"}, args=["daemon"]).startswith("GNR_DAEMON_BIND='999.1.1.1'")
    assert error({**SHARED, "GNR_DAEMON_HOST": "gnrdaemon"}, args=["daemon"]).startswith(
        "GNR_DAEMON_HOST='gnrdaemon' is set for mode daemon")


def test_web_pods_use_the_shared_daemon_and_start_none():
    web = plan({**SHARED, "GNR_DAEMON_HOST": "gnrdaemon", "GNR_DAEMON_PORT": "40500"})
    assert 'host="gnrdaemon"' in web.files["environment.xml"] and 'hmac_key="shared-key"' in web.files["environment.xml"]
    assert web.env["GENROPY_DAEMON_AUTOSTART"] == "false"
    assert web.env["GENROPY_DAEMON_ADDRESS"] == "gnrdaemon:40500" and web.shared_daemon
    assert plan().env["GENROPY_DAEMON_AUTOSTART"] == "true" and not plan().shared_daemon
    assert not plan(args=["dbsetup"]).shared_daemon
    assert error({"GNR_DAEMON_HOST": "gnrdaemon"}).startswith(
        "GNR_DAEMON_HOST='gnrdaemon': a shared gnrdaemon needs GNR_DAEMON_HMAC_KEY")


def test_the_task_workloads():
    scaled = {**SHARED, "GNR_DAEMON_HOST": "gnrdaemon"}
    scheduler = plan({**scaled, "GNR_SCHEDULER_BIND": "0.0.0.0"}, args=["scheduler"])
    assert scheduler.command == ["/opt/venv/bin/gnr", "web", "taskscheduler", "demo", "--host", "0.0.0.0",
                                 "--port", "14951"]
    assert 'async_impl="true"' in scheduler.files["environment.xml"]
    worker = plan({**scaled, "GNR_SCHEDULER_URL": "http://scheduler:14951", "GENROPY_TASK_WORKERS": "3"},
                  args=["taskworker"])
    assert worker.command == ["/opt/venv/bin/gnr", "web", "taskworker", "demo", "-p", "3"]
    assert worker.env["GNR_SCHEDULER_URL"] == "http://scheduler:14951"
    web = plan({**scaled, "GNR_SCHEDULER_URL": "http://scheduler:14951"})
    assert web.env["GNR_SCHEDULER_URL"] == "http://scheduler:14951" and 'async_impl="true"' in web.files["environment.xml"]
    assert error({**scaled}, args=["taskworker"]).startswith("mode taskworker needs GNR_SCHEDULER_URL")
    assert scheduler.db_setup and not plan({**SHARED, "GNR_DAEMON_BIND": "0.0.0.0"}, args=["daemon"]).db_setup
    assert error({"GNR_SCHEDULER_URL": "http://scheduler:14951"}, args=["taskworker"]).startswith(
        "mode taskworker runs alone and needs the site's shared register: set GNR_DAEMON_HOST")
    on_redis = plan({**SHARED, "GENROPY_REGISTER": "redis", "GENROPY_REDIS_URL": "redis://valkey:6379/0",
                     "GNR_SCHEDULER_URL": "http://scheduler:14951"}, args=["taskworker"])  # no gnrdaemon anywhere
    assert on_redis.command == ["/opt/venv/bin/gnr", "web", "taskworker", "demo", "-p", "1"]
    assert on_redis.env["GENROPY_REGISTER"] == "redis" and "GNR_DAEMON_HOST" not in on_redis.env


def test_a_shared_async_server():
    scaled = {**SHARED, "GNR_DAEMON_HOST": "gnrdaemon"}
    assert plan(scaled, args=["async"]).command == ["/opt/venv/bin/gnr", "web", "async", "demo", "-p", "9999"]
    web = plan({**scaled, "GENROPY_ASYNC_ADDRESS": "async:9999"})
    assert web.env["GENROPY_ASYNC_AUTOSTART"] == "false" and web.env["GENROPY_ASYNC_ADDRESS"] == "async:9999"
    assert plan().env["GENROPY_ASYNC_AUTOSTART"] == "true"
    assert error({"GENROPY_ASYNC_ADDRESS": "async"}).startswith("GENROPY_ASYNC_ADDRESS='async': expected host:port")


def test_genropy_never_writes_its_token_key_itself_and_pods_share_it():
    """GenroPy rewrote environment.xml in place from every process when external_secret was
    missing (a reader saw an empty file); pods sharing the daemon key share the token key."""
    from gnr.core import gnrconfig

    assert "environment_bag.toXml(environment_path" in inspect.getsource(gnrconfig.getEnvironmentItem)
    one, other = (plan({**SHARED, "GNR_DAEMON_HOST": "gnrdaemon"}).files["environment.xml"] for _ in range(2))
    assert "<external_secret>" in one and one == other
    assert plan({"GNR_DAEMON_HMAC_KEY": "another"}).files["environment.xml"] != one
    printed = plan({**SHARED}, args=["print-config"]).as_json()
    assert f"<external_secret>{MASK}</external_secret>" in printed


def test_site_data_carries_the_registers_and_the_instance_folders():
    shared = plan({"GENROPY_SITE_DATA": "/srv/site-data/"})
    assert shared.site_data == "/srv/site-data"
    assert shared.env["GENROPY_REGISTER_STORE"] == "/srv/site-data/registers"
    assert plan().env["GENROPY_REGISTER_STORE"] == "/var/lib/genropy/registers" and plan().site_data == ""


def test_help_lists_every_mode_and_the_readme_table_is_the_same_source(capsys):
    from genropy_asgi.container.entrypoint import main
    from genropy_asgi.container.plan import MODES, modes_table

    for word in ("--help", "-h", "help"):
        assert main([word]) == 0
        shown = capsys.readouterr().out
        for mode in MODES:
            assert f"\n  {mode} " in shown, mode
        assert "`" not in shown and "](#" not in shown
    page = (Path(__file__).resolve().parents[2] / "docs" / "image.md").read_text(encoding="utf-8")
    assert modes_table() in page, "docs/image.md's mode table differs from plan.MODE_HELP: paste plan.modes_table()"


# -- coming from GenroPy's own container tools (dockerize, k8s, serveprod) ----------------

def test_genropy_tools_variables_are_read_as_ours():
    p = plan({"GNR_ROOTPWD": "tools-secret-1", "GNR_GUNICORN_WORKERS": "3", "GNR_GUNICORN_THREADS": "6",
              "GNR_GUNICORN_BIND": "0.0.0.0:8000", "GNR_EXTERNALHOST": "https://shop.example.com/"})
    assert p.workers == 3 and p.port == 8000 and p.env["GENROPY_WSGI_THREADS"] == "6"
    assert 'external_host="https://shop.example.com"' in p.files["siteconfig/default.xml"]
    assert "tools-secret-1" in p.secrets  # masked wherever the plan is shown
    same = plan({"GNR_ADMIN_PASSWORD": "tools-secret-1"}).files["instanceconfig/default.xml"]
    assert p.files["instanceconfig/default.xml"] == same  # the admin's login, exactly as with ours
    assert not any(name.startswith(("GNR_ROOTPWD", "GNR_GUNICORN_", "GNR_EXTERNALHOST")) for name in p.env)
    assert "tools-secret-1" not in " ".join(p.env.values())
    assert "GNR_ROOTPWD (GenroPy's container tools) read as GNR_ADMIN_PASSWORD" in p.notes
    assert "GNR_GUNICORN_BIND read as GNR_WSGI_OPT_port=8000" in p.notes


def test_ours_win_over_genropy_tools_variables_and_say_so():
    p = plan({"GNR_GUNICORN_WORKERS": "3", "GENROPY_WORKERS": "2"})
    assert p.workers == 2
    assert "GNR_GUNICORN_WORKERS (GenroPy's container tools) is set, and so is GENROPY_WORKERS: GENROPY_WORKERS wins" \
        in p.notes


def test_a_genropy_gunicorn_option_we_lack_is_refused_in_one_line():
    assert error({"GNR_GUNICORN_KEEPALIVE": "5"}).startswith(
        "GNR_GUNICORN_KEEPALIVE: GenroPy's gunicorn option 'keepalive' has no equivalent here; remove it")
    assert error({"GENROPY_EXTERNAL_HOST": "shop.example.com"}).startswith(
        "GENROPY_EXTERNAL_HOST='shop.example.com': expected a URL")
    assert error({"GNR_EXTERNALHOST": "not a url"}).startswith("GENROPY_EXTERNAL_HOST='not a url'")


# -- backups ---------------------------------------------------------------------------------

def test_backup_and_restore_run_in_the_entrypoint_with_their_settings():
    p = plan(args=["backup", "--every", "3600"])
    assert p.command == [] and p.mode_args == ["--every", "3600"] and p.db_setup is False
    assert p.backup.destination.folder == "/var/lib/genropy/backups" and p.backup.keep == 7
    r = plan({"GENROPY_BACKUP_DESTINATION": "/srv/backups", "GENROPY_BACKUP_KEEP": "30"}, ["restore", "latest"])
    assert r.db_setup is True  # after the archive is in place
    assert (r.backup.destination.folder, r.backup.keep) == ("/srv/backups", 30)
    assert plan().backup is None


def test_an_s3_destination_takes_its_secret_from_a_file_and_keeps_it_from_the_children():
    files = FakeFiles({"/run/s3": "s3-Secret-Key\n"})
    p = plan({"GENROPY_BACKUP_DESTINATION": "s3://site-backups/shop", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
              "AWS_SECRET_ACCESS_KEY_FILE": "/run/s3", "GENROPY_BACKUP_S3_ENDPOINT": "http://minio:9000"},
             ["backup"], files)
    assert p.backup.credentials["aws_secret_access_key"] == "s3-Secret-Key"
    assert p.backup.credentials["endpoint_url"] == "http://minio:9000"
    assert "s3-Secret-Key" in p.secrets and "s3-Secret-Key" not in json.dumps(p.env)
    assert "AWS_SECRET_ACCESS_KEY_FILE" not in p.env
    assert MASK in p.as_json() or "s3-Secret-Key" not in p.as_json()


@pytest.mark.parametrize("env, words", [
    ({"GENROPY_BACKUP_DESTINATION": "backups"}, "GENROPY_BACKUP_DESTINATION='backups': expected an absolute folder"),
    ({"GENROPY_BACKUP_DESTINATION": "s3://site-backups"}, "needs AWS_ACCESS_KEY_ID(_FILE) and AWS_SECRET_ACCESS_KEY(_FILE)"),
    ({"GENROPY_BACKUP_KEEP": "0"}, "GENROPY_BACKUP_KEEP='0': expected a whole number from 1"),
    ({"GENROPY_BACKUP_S3_ENDPOINT": "minio:9000"}, "GENROPY_BACKUP_S3_ENDPOINT='minio:9000': expected a URL"),
])
def test_bad_backup_settings_are_one_line(env, words):
    assert words in error(env, ["backup"])


@pytest.mark.parametrize(("env", "args", "expected"), [
    ({}, None, "local"),  # one server process: the register in it
    ({"GENROPY_WORKERS": "2"}, None, "pyro"),  # gunicorn's workers share gnrdaemon's
    ({**SHARED, "GNR_DAEMON_HOST": "gnrdaemon"}, None, "pyro"),  # pods share a daemon
    ({"GENROPY_REGISTER": "pyro"}, None, "pyro"),
    ({"GENROPY_REGISTER": "LOCAL"}, None, "local"),
    ({**SHARED, "GENROPY_REGISTER": "redis", "GENROPY_REDIS_URL": "redis://valkey:6379/0", "GENROPY_WORKERS": "3"},
     None, "redis"),  # any number of processes and pods
    ({**SHARED, "GNR_DAEMON_HOST": "gnrdaemon", "GENROPY_REGISTER": "redis", "GENROPY_REDIS_URL": "redis://r"},
     None, "redis"),
])
def test_the_register_is_local_only_where_one_server_process_serves_alone(env, args, expected):
    made = plan(env, args=args)
    assert made.env["GENROPY_REGISTER"] == expected


@pytest.mark.parametrize(("env", "expected"), [
    ({"GENROPY_REGISTER": "local", "GENROPY_WORKERS": "3"},
     "GENROPY_REGISTER=local keeps the register in the one web server process: not with GENROPY_WORKERS=3; "
     "set GENROPY_REGISTER=redis or pyro"),
    ({**SHARED, "GNR_DAEMON_HOST": "gnrdaemon", "GENROPY_REGISTER": "local"},
     "GENROPY_REGISTER=local keeps the register in the one web server process: not with GNR_DAEMON_HOST "
     "(a shared gnrdaemon); set GENROPY_REGISTER=redis or pyro"),
    ({"GENROPY_REGISTER": "memcached"}, "GENROPY_REGISTER"),
    ({**SHARED, "GENROPY_REGISTER": "redis"}, "GENROPY_REGISTER=redis needs GENROPY_REDIS_URL (redis://HOST:6379/0"),
    ({"GENROPY_REGISTER": "redis", "GENROPY_REDIS_URL": "redis://valkey"},
     "GENROPY_REGISTER=redis signs the register's values with GNR_DAEMON_HMAC_KEY: set it"),
])
def test_a_register_that_cannot_work_is_one_line(env, expected):
    assert error(env).startswith(expected)


def test_the_redis_register_reaches_the_programs_as_files_never_as_values():
    made = plan({**SHARED, "GENROPY_REGISTER": "redis", "GENROPY_REDIS_URL": "redis://valkey:6379/0",
                 "GENROPY_REDIS_PASSWORD": "valkey-secret", "GENROPY_WORKERS": "2"})
    assert made.env["GENROPY_REGISTER"] == "redis"
    assert "GENROPY_REDIS_URL" not in made.env and "GENROPY_REDIS_PASSWORD" not in made.env
    url_file = made.env["GENROPY_REDIS_URL_FILE"]
    password_file = made.env["GENROPY_REDIS_PASSWORD_FILE"]
    assert url_file.startswith(made.config_dir + "/") and password_file.startswith(made.config_dir + "/")
    assert made.files[url_file[len(made.config_dir) + 1:]] == "redis://valkey:6379/0"
    assert made.files[password_file[len(made.config_dir) + 1:]] == "valkey-secret"
    assert "valkey-secret" in made.secrets and "redis://valkey:6379/0" in made.secrets
    assert "valkey-secret" not in made.as_json() and "redis://valkey" not in made.as_json()


# -- an instance's own database ----------------------------------------------------------------

@pytest.mark.parametrize("instance_db,env,expected", [
    ({"implementation": "postgres", "dbname": "shop"}, {}, "wants PostgreSQL (<db implementation=\"postgres\">) and "
     "names no host: set GNR_DB_IMPLEMENTATION=postgres with GNR_DB_HOST"),
    ({"implementation": "postgres3"}, {}, "or GNR_DB_IMPLEMENTATION=sqlite to try it on SQLite"),
    ({"implementation": "postgres", "host": "db.shop"}, {}, None),  # it says where: GenroPy connects there
    ({"implementation": "postgres"}, {"GNR_DB_IMPLEMENTATION": "postgres"}, None),  # the deployment's replaces it
    ({"implementation": "postgres"}, {"GNR_DB_IMPLEMENTATION": "sqlite"}, None),
    ({"dbname": "demo"}, {}, None),  # GenroPy's default: SQLite
    ({"implementation": "sqlite"}, {}, None),
    (None, {}, None),  # no <db> at all
])
def test_an_instance_that_wants_postgresql_without_a_host_is_one_line(instance_db, env, expected):
    from genropy_asgi.container.database_plan import instance_database_problem

    found = instance_database_problem(instance_db, env)
    assert (found is None) if expected is None else (expected in found), found


def test_an_instance_without_root_py_gets_the_standard_one_in_its_site_folder():
    without = FakeFiles({DEMO_ROOT_PY: None})
    supplied = plan(files=without)
    assert supplied.root_py == "/opt/genropy/projects/demo/instances/demo/site/root.py"
    assert any("no root.py for site demo" in note and supplied.root_py in note for note in supplied.notes)
    assert plan().root_py is None  # the project's own root.py
    in_site = FakeFiles({DEMO_ROOT_PY: None, "/opt/genropy/projects/demo/instances/demo/site/root.py": "x"})
    assert plan(files=in_site).root_py is None  # supplied by an earlier start (or by the user)


def test_a_sites_folder_is_the_site_folder_genropy_resolves_first():
    files = FakeFiles({DEMO_ROOT_PY: None})
    files.dirs["/opt/genropy/projects/demo/sites"] = ["demo"]
    assert plan(files=files).root_py == "/opt/genropy/projects/demo/sites/demo/root.py"
    files.files["/opt/genropy/projects/demo/sites/root.py"] = "# GenroPy's <site>/../root.py"
    assert plan(files=files).root_py is None


def test_the_image_admin_takes_a_free_name_when_the_instance_has_its_own():
    config = "/opt/genropy/projects/demo/instances/demo/config/instanceconfig.xml"
    own = ("<GenRoBag><authentication><xml_auth defaultTags='user'><admin pwd='theirs' tags='admin'/>"
           "<admin2 pwd='x'/></xml_auth></authentication></GenRoBag>")
    env = {"GNR_ADMIN_PASSWORD": "Image-Admin-1"}
    clashing = plan(env, files=FakeFiles({config: own}))
    assert "admin3" in clashing.files["instanceconfig/default.xml"]
    assert "<admin " not in clashing.files["instanceconfig/default.xml"]
    assert any(config in note and "logs in as 'admin3'" in note for note in clashing.notes)
    named = plan({**env, "GNR_ADMIN_USER": "boss"}, files=FakeFiles({config: own}))
    assert "<boss " in named.files["instanceconfig/default.xml"] and not any("xml_auth" in n for n in named.notes)
    assert "<admin " in plan(env).files["instanceconfig/default.xml"]  # no instance user of that name


def test_admin_login_and_instance_users():
    from genropy_asgi.container.admin_login import admin_login, instance_xml_users

    assert admin_login("admin", set()) == "admin"
    assert admin_login("admin", {"admin", "admin2"}) == "admin3"
    assert instance_xml_users("<GenRoBag><authentication><xml_auth><root/></xml_auth></authentication>"
                              "</GenRoBag>") == {"root"}
    assert instance_xml_users("<not xml") == set() and instance_xml_users(None) == set()


def test_a_read_only_project_with_site_data_is_served_through_shadow_roots():
    env = {"GENROPY_SITE_DATA": "/var/lib/genropy/site-data/"}
    shadowed = plan(env, files=FakeFiles({DEMO_ROOT_PY: None}), read_only=lambda instance: True)
    shadow = "/var/lib/genropy/shadow-projects/0"
    assert shadowed.shadows == {"/opt/genropy/projects": shadow}
    assert shadowed.project_roots == [shadow]
    assert f'path="{shadow}"' in shadowed.files["environment.xml"]
    assert 'path="/opt/genropy/projects"' not in shadowed.files["environment.xml"]
    assert shadowed.root_py == f"{shadow}/demo/instances/demo/site/root.py"
    assert any("cannot be written" in note and "GENROPY_SITE_DATA=/var/lib/genropy/site-data" in note
               for note in shadowed.notes)
    assert plan(env).shadows == {}  # writable: in place, as before
    assert plan(read_only=lambda instance: True).shadows == {}  # no site data: the start's one line


def test_the_shadow_of_a_project_links_everything_but_the_instance_data(tmp_path):
    from genropy_asgi.container.read_only_project import build_shadow, shadow_roots

    root = tmp_path / "projects"
    instance = root / "shop" / "instances" / "shopsite"
    (instance / "config").mkdir(parents=True)
    (instance / "config" / "instanceconfig.xml").write_text("<GenRoBag/>")
    (instance / "site").mkdir()  # committed empty: GenroPy's writes go to site data instead
    (root / "shop" / "packages" / "shop").mkdir(parents=True)
    (root / "shop" / "instances" / "other").mkdir()
    (root / "library").mkdir()
    before = sorted(str(p) for p in root.rglob("*"))
    shadows = shadow_roots(str(tmp_path / "home"), [str(root)])
    served = build_shadow(shadows, str(instance), str(tmp_path / "site-data"))
    assert served == f"{tmp_path}/home/shadow-projects/0/shop/instances/shopsite"
    shadow = tmp_path / "home" / "shadow-projects" / "0"
    assert (shadow / "library").resolve() == root / "library"
    assert (shadow / "shop" / "packages").resolve() == root / "shop" / "packages"
    assert (shadow / "shop" / "instances" / "other").resolve() == root / "shop" / "instances" / "other"
    assert (shadow / "shop" / "instances" / "shopsite" / "config" / "instanceconfig.xml").read_text() == "<GenRoBag/>"
    # GenroPy's SQLite path is realpath(<instance>/config/../data/...): it must stay in the shadow
    sqlite_dir = os.path.realpath(os.path.join(served, "config", "..", "data"))
    assert sqlite_dir == str(tmp_path / "site-data" / "instances" / "shopsite" / "data")
    for name in ("data", "site"):
        assert (Path(served) / name).resolve() == tmp_path / "site-data" / "instances" / "shopsite" / name
    (Path(served) / "site" / "written").write_text("x")
    assert sorted(str(p) for p in root.rglob("*")) == before  # the project: untouched
    again = build_shadow(shadows, str(instance), str(tmp_path / "site-data"))  # the next start
    assert (Path(again) / "site" / "written").read_text() == "x"  # site data kept


def test_workers_auto_is_the_cpu_quota_and_recycling_maps_from_genropy_tools():
    from genropy_asgi.cpu_quota import available_workers, cpus_from, server_workers, workers_from
    from genropy_asgi.settings import AUTO_WORKERS

    assert cpus_from("max 100000", 8) == 8
    assert cpus_from("150000 100000", 8) == 2  # 1.5 CPUs: rounded up
    assert cpus_from("50000 100000", 8) == 1
    assert cpus_from("400000 100000", 2) == 2  # never more than it may run on
    assert cpus_from(None, 3) == 3 and cpus_from("garbage", 3) == 3
    gib = str(2**30)
    assert workers_from("max 100000", str(2 * 2**30), 64) == 8  # no CPU limit, 2 GiB: what the memory holds
    assert workers_from("200000 100000", str(4 * 2**30), 64) == 2 and workers_from("max", "max\n", 3) == 3
    assert workers_from(None, gib[:3], 4) == 1 and workers_from(None, "garbage", 4) == 4  # at least one
    assert server_workers(AUTO_WORKERS, "redis", 6) == 6 and server_workers(AUTO_WORKERS, "redis", 99) == 64
    assert server_workers(AUTO_WORKERS, None, 6) == 1 and server_workers(AUTO_WORKERS, "pyro", 6) == 1
    assert server_workers(3, None, 6) == 3  # a number asked is kept
    for asked in ({}, {"GENROPY_WORKERS": "auto"}):  # the default: auto
        alone = plan(asked)
        assert alone.workers == 1 and alone.env["GENROPY_WORKERS"] == "1" and alone.env["GENROPY_REGISTER"] == "local"
        shared = plan({**asked, **SHARED, "GENROPY_REGISTER": "redis", "GENROPY_REDIS_URL": "redis://valkey:6379/0"})
        assert shared.workers == min(available_workers(), 64) and shared.env["GENROPY_WORKERS"] == str(shared.workers)
    assert "auto or a whole number from 1 to 64" in error({"GENROPY_WORKERS": "many"})
    theirs = plan({"GNR_GUNICORN_MAX_REQUESTS": "300", "GNR_GUNICORN_MAX_REQUESTS_JITTER": "50",
                   "GENROPY_WORKERS": "2"})
    assert theirs.env["GENROPY_MAX_REQUESTS"] == "300" and theirs.env["GENROPY_MAX_REQUESTS_JITTER"] == "50"
    assert "GNR_GUNICORN_MAX_REQUESTS" not in theirs.env
    single = plan({"GENROPY_MAX_REQUESTS": "300"})
    assert any("GENROPY_WORKERS=1: a single process is never replaced" in note for note in single.notes)


def test_gunicorn_config_recycles_workers_as_genropy_does(monkeypatch):
    import runpy

    monkeypatch.setenv("GENROPY_BIND", "127.0.0.1:8080")
    monkeypatch.setenv("GENROPY_MAX_REQUESTS", "300")
    config = runpy.run_path(str(Path(__file__).resolve().parents[2] / "config" / "gunicorn.conf.py"))
    assert (config["max_requests"], config["max_requests_jitter"]) == (300, 50)
    monkeypatch.setenv("GENROPY_MAX_REQUESTS_JITTER", "7")
    config = runpy.run_path(str(Path(__file__).resolve().parents[2] / "config" / "gunicorn.conf.py"))
    assert config["max_requests_jitter"] == 7


def test_genropy_tools_loopback_daemon_host_means_the_containers_own_daemon():
    own = plan({"GNR_DAEMON_HOST": "127.0.0.1"})
    assert not own.shared_daemon
    assert any("GNR_DAEMON_HOST=127.0.0.1 (as GenroPy's container tools set it)" in note for note in own.notes)
    sidecar = plan({"GNR_DAEMON_HOST": "127.0.0.1", "GNR_DAEMON_HMAC_KEY": "k" * 32})
    assert sidecar.shared_daemon  # with a key: a daemon beside this container (a sidecar), as before
    assert "needs GNR_DAEMON_HMAC_KEY" in error({"GNR_DAEMON_HOST": "gnrdaemon"})


def test_the_plans_typed_readers_refuse_what_the_table_does_not_give():
    from genropy_asgi.container.sources import flag, given, seconds, text, whole

    assert whole({}, "GENROPY_WSGI_THREADS") == 16 and flag({}, "GENROPY_TASKS") is False
    assert seconds({}, "GENROPY_DAEMON_WAIT", 60.0) == 60.0 and text({}, "GNR_REMOTEDB") is None
    assert given({}, "GENROPY_HOME") == "/var/lib/genropy"
    for reader, name in ((whole, "GENROPY_TASKS"), (flag, "GENROPY_WSGI_THREADS"), (given, "GNR_REMOTEDB"),
                         (text, "GENROPY_WSGI_THREADS")):
        with pytest.raises(TypeError, match=name):  # a flag is no number, an unset text is no default
            reader({}, name)
