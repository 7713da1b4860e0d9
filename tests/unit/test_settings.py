"""The one table of settings: parsers, secrets, old names, and the README generated from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from genropy_asgi import settings, settings_docs
from genropy_asgi.container import genropy_tools_env
from genropy_asgi.settings import SettingError

ROOT = Path(__file__).resolve().parents[2]
CODE = [*sorted((ROOT / "genropy_asgi").rglob("*.py")), *sorted((ROOT / "entrypoint").glob("*")),
        *sorted((ROOT / "config").glob("*")), ROOT / "docker-compose.yml", ROOT / ".env.example",
        *sorted((ROOT / "helm").rglob("*.yaml")), *sorted((ROOT / "helm").rglob("*.tpl")), ROOT / "Dockerfile"]
VARIABLE = re.compile(r"\b((?:GENROPY|GNR)_[A-Z][A-Z0-9_]*[A-Z0-9])\b")
FAMILIES = ("GNR_WSGI_OPT_", "GNR_REMOTEDB_")
OURS_NOT_ENV = {"GNR_ASYNC_URL",  # GenroPy's own (a siteconfig value the relay honours), not ours
                "GNR_LOCAL_PROJECTS"}  # GenroPy's own (PathResolver looks there first), read as it does
# GenroPy's container tools' variables: translated onto ours (genropy_tools_env), never read as such
TOOLS_NAMES = {name.removesuffix("_FILE") for name in genropy_tools_env.HONOURED}


def test_readme_tables_are_the_table():
    docs = "".join(page.read_text(encoding="utf-8") for page in sorted((ROOT / "docs").glob("*.md")))
    blocks = dict(settings_docs.readme_blocks(docs))
    assert set(blocks) == {settings.IMAGE, settings.SERVER, settings.COMPOSE, settings.TESTING, settings.SUITE,
                           settings.INTERNAL}
    stale = [scope for scope, text in blocks.items() if text != settings_docs.markdown(scope)]
    assert not stale, f"docs tables {stale} differ: run python -m genropy_asgi.settings_docs readme docs/*.md"


def test_every_variable_the_code_names_is_in_the_table():
    known = set(settings.BY_NAME) | set(settings.ALIASES)
    unknown: dict[str, str] = {}
    for path in CODE:
        if not path.is_file():
            continue
        for name in VARIABLE.findall(path.read_text(encoding="utf-8", errors="replace")):
            base = name[:-5] if name.endswith("_FILE") else name
            if base in known or base.startswith(FAMILIES) or base in OURS_NOT_ENV or base == "GNR_DB_DSN" \
                    or base in TOOLS_NAMES or base.startswith(genropy_tools_env.GUNICORN_PREFIX):
                continue
            if base.endswith(("_VARIABLE", "_ELEMENT", "_COMPAT")):
                continue  # a Python constant holding a name, a patch's marker attribute
            unknown.setdefault(base, str(path.relative_to(ROOT)))
    assert not unknown, f"variables missing from genropy_asgi/settings.py: {unknown}"


@pytest.mark.parametrize("name, raw, expected", [
    ("GENROPY_WORKERS", "²", "GENROPY_WORKERS='²': expected auto or a whole number from 1 to 64"),
    ("GENROPY_WORKERS", "٣", "GENROPY_WORKERS='٣': expected auto or a whole number from 1 to 64"),
    ("GENROPY_WORKERS", "0", "GENROPY_WORKERS='0': expected auto or a whole number from 1 to 64"),
    ("GENROPY_SHUTDOWN_TIMEOUT", "nan", "GENROPY_SHUTDOWN_TIMEOUT='nan': expected a number of seconds >= 0"),
    ("GENROPY_SHUTDOWN_TIMEOUT", "inf", "GENROPY_SHUTDOWN_TIMEOUT='inf': expected"),
    ("GENROPY_DB_WAIT", "-1", "GENROPY_DB_WAIT='-1': expected"),
    ("GENROPY_CRASH_WINDOW", "0", "GENROPY_CRASH_WINDOW='0': expected a number of seconds above 0"),
    ("GENROPY_CRASH_RESTARTS", "abc", "GENROPY_CRASH_RESTARTS='abc': expected a whole number from 1 to 1000"),
    ("GENROPY_TASKS", "maybe", "GENROPY_TASKS='maybe': expected true or false"),
    ("GNR_CURRENT_SITE", "a b", "GNR_CURRENT_SITE='a b': expected an instance name"),
])
def test_bad_values_are_one_line_naming_the_variable(name, raw, expected):
    with pytest.raises(SettingError) as caught:
        settings.read({name: raw}, name)
    assert str(caught.value).startswith(expected) and "\n" not in str(caught.value)


def test_values_defaults_and_overrides():
    assert settings.read({}, "GENROPY_WORKERS") == settings.AUTO_WORKERS
    assert settings.read({"GENROPY_WORKERS": " 4 "}, "GENROPY_WORKERS") == 4
    assert settings.read({"GENROPY_WORKERS": ""}, "GENROPY_WORKERS") == settings.AUTO_WORKERS  # empty is unset
    assert settings.read({}, "GENROPY_DAEMON_WAIT", 60.0) == 60.0
    assert settings.read({"GENROPY_TASKS": "Yes"}, "GENROPY_TASKS") is True
    assert settings.read({"GENROPY_ASYNC_SERVER": "false"}, "GENROPY_ASYNC_SERVER") == "off"
    assert settings.read({"GENROPY_ASYNC_SERVER": "External"}, "GENROPY_ASYNC_SERVER") == "external"


def test_old_names_still_work_and_are_said():
    env = {"GENROPY_ASGI_WSGI_THREADS": "8"}
    assert settings.read(env, "GENROPY_WSGI_THREADS") == 8
    assert settings.deprecations(env) == ["GENROPY_ASGI_WSGI_THREADS is deprecated: use GENROPY_WSGI_THREADS"]
    both = {"GENROPY_ASGI_WSGI_THREADS": "8", "GENROPY_WSGI_THREADS": "4"}
    assert settings.read(both, "GENROPY_WSGI_THREADS") == 4
    assert "wins" in settings.deprecations(both)[0]
    with pytest.raises(SettingError, match=r"^GENROPY_ASGI_WSGI_THREADS='x'"):  # the variable really set
        settings.read({"GENROPY_ASGI_WSGI_THREADS": "x"}, "GENROPY_WSGI_THREADS")


def test_secrets_like_file_env():
    files = {"/run/secrets/pw": "s3cret\n"}
    assert settings.read_secret({"GNR_DB_PASSWORD_FILE": "/run/secrets/pw"}, "GNR_DB_PASSWORD", files.get) == "s3cret"
    assert settings.read_secret({"GNR_DB_PASSWORD": "x"}, "GNR_DB_PASSWORD", files.get) == "x"
    with pytest.raises(SettingError, match="^GNR_DB_PASSWORD and GNR_DB_PASSWORD_FILE are both set: use one$"):
        settings.read_secret({"GNR_DB_PASSWORD": "x", "GNR_DB_PASSWORD_FILE": "/run/secrets/pw"},
                             "GNR_DB_PASSWORD", files.get)
    with pytest.raises(SettingError, match="^GNR_DB_PASSWORD_FILE=/nope: no such file$"):
        settings.read_secret({"GNR_DB_PASSWORD_FILE": "/nope"}, "GNR_DB_PASSWORD", files.get)
    assert settings.is_secret_name("GNR_DAEMON_HMAC_KEY") and settings.is_secret_name("GNR_REMOTEDB_X_SSH_PASSWORD")
    assert not settings.is_secret_name("GNR_DB_USER")


def test_snapshot_masks_secrets_and_validate_reads_everything():
    snap = settings.snapshot({"GNR_DB_PASSWORD": "s3cret", "GENROPY_WORKERS": "2"}, settings.IMAGE)
    assert snap["GNR_DB_PASSWORD"] == settings.MASK and snap["GENROPY_WORKERS"] == 2
    assert "s3cret" not in repr(snap) and snap["GNR_ADMIN_PASSWORD"] is None
    settings.validate({}, settings.IMAGE)
    with pytest.raises(SettingError, match="^GENROPY_HEADER_TIMEOUT="):
        settings.validate({"GENROPY_HEADER_TIMEOUT": "0"}, settings.IMAGE)


def test_every_entry_is_documented_once():
    names = [entry.name for entry in settings.TABLE]
    assert len(names) == len(set(names))
    assert all(entry.help and "\n" not in entry.help and "|" not in entry.help for entry in settings.TABLE)
    assert not set(settings.ALIASES) & set(names)
