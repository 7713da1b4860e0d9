"""config.yaml: every malformed case fails with one line naming file, key and problem."""

from __future__ import annotations

import pytest

from genropy_asgi.asgi.config_file import ConfigFileError, load_config, parse_config

GOOD = """
server: {host: 127.0.0.1, port: 8082, wsgi_threads: 8}
databases:
  default: {genropy_app: sourcerer}
  analytics: {genropy_app: analytics}
middleware: {cors: on, errors: on}
apps:
  api: {module: "my_project.api:MyAPI", db_name: default, docs: swagger}
  reports: {module: "my_project.reports:ReportsAPI", db_name: analytics, docs: redoc}
"""


def test_the_design_documents_example_parses():
    config = parse_config(GOOD, "config.yaml")
    assert config.server == {"host": "127.0.0.1", "port": 8082, "wsgi_threads": 8}
    assert config.databases == {"default": "sourcerer", "analytics": "analytics"}
    assert config.middleware == {"cors": True, "errors": True}
    assert [(a.name, a.db_name, a.docs) for a in config.apps] == [
        ("api", "default", "swagger"), ("reports", "analytics", "redoc")]


def test_missing_file_is_an_empty_config(tmp_path):
    assert load_config(tmp_path).apps == ()


@pytest.mark.parametrize("text,message", [
    ("server: [1, 2", "config.yaml: line 1: not valid YAML"),
    ("servers: {}", "config.yaml: servers: unknown key"),
    ("server: {prot: 1}", "config.yaml: server.prot: unknown key"),
    ("server: {port: eighty}", "config.yaml: server.port: expected int, got 'eighty'"),
    ("databases: {main: {}}", "config.yaml: databases.main: missing genropy_app"),
    ("databases: {main: {genropy_app: x, user: y}}", "config.yaml: databases.main.user: unknown key"),
    ("middleware: {cors: 3}", "config.yaml: middleware.cors: expected on/off or a mapping"),
    ("apps: {api: {module: nocolon}}", "config.yaml: apps.api.module: expected \"package.module:ClassName\""),
    ("apps: {api: {module: 'a:B', docs: pdf}}", "config.yaml: apps.api.docs: expected one of swagger, redoc, off"),
    ("apps: {api: {module: 'a:B', db_name: main}}", "config.yaml: apps.api.db_name: 'main' is not declared"),
    ("apps: {d: {kind: genropy-rest, db_name: main}}", "config.yaml: apps.d.kind: expected one of genropy-data"),
    ("apps: {d: {kind: genropy-data}}", "config.yaml: apps.d.db_name: kind genropy-data reads a database"),
    ("apps: {d: {kind: genropy-data, module: 'a:B'}}", "config.yaml: apps.d: kind and module exclude each other"),
    ("apps: {d: {kind: genropy-data, db_name: main}}", "config.yaml: apps.d.db_name: 'main' is not declared"),
    ("- a list", "config.yaml: (top level): expected a mapping"),
])
def test_bad_config_one_clear_line(text, message):
    with pytest.raises(ConfigFileError) as caught:
        parse_config(text, "config.yaml")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_module_that_does_not_import(tmp_path):
    from genropy_asgi import GenropyAsgiServer

    (tmp_path / "config.yaml").write_text("apps:\n  api: {module: 'no_such_module_xyz:Api'}\n")
    with pytest.raises(ConfigFileError) as caught:
        GenropyAsgiServer(server_dir=tmp_path)
    assert str(caught.value) == (f"{tmp_path}/config.yaml: apps.api.module: cannot import module "
                                 "'no_such_module_xyz': ModuleNotFoundError: No module named 'no_such_module_xyz'")


def test_unknown_middleware(tmp_path):
    from genropy_asgi import GenropyAsgiServer

    (tmp_path / "config.yaml").write_text("middleware: {gzipper: on}\n")
    with pytest.raises(ConfigFileError, match=r"config.yaml: middleware: unknown middleware name\(s\) in config: gzipper"):
        GenropyAsgiServer(server_dir=tmp_path)


def test_docs_off_is_yaml_false():
    """``docs: off`` (what the header documents) is YAML's False: accepted, as "off"."""
    assert parse_config("apps: {api: {module: 'a:B', docs: off}}", "config.yaml").apps[0].docs == "off"
    with pytest.raises(ConfigFileError, match="apps.api.docs: expected one of swagger, redoc, off"):
        parse_config("apps: {api: {module: 'a:B', docs: on}}", "config.yaml")
