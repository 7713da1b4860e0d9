"""GenroPy's config folder, rendered from a value: ``environment.xml``,
``siteconfig/default.xml``, ``instanceconfig/default.xml``.

Pure: ``render_config_folder(GnrSetup) -> {relative path: XML text}``. Writing is
``write_config_folder`` (all files, or none: everything is written into a fresh
sibling folder, then swapped in). Used by the image's entrypoint, the tests and the
benchmarks, so every place configures GenroPy the same way.

Facts this encodes (GenroPy 26.10): the folder is found through ``GENRO_GNRFOLDER``
and must be named ``gnr`` or ``.gnr``; the gnrdaemon is declared twice, with the
same element, in environment.xml (read by the daemon) and in the siteconfig (read by
the site); ``instanceconfig/default.xml`` is merged UNDER each instance's own
``config/instanceconfig.xml`` (attribute by attribute), so a ``<db>`` here loses to the
instance's own; the ``DB_OVERRIDE_ELEMENT`` wins over it instead (``db_override_compat``,
the image's ``GNR_DB_*``); these files are NOT passed
through ``str.format_map`` (only the instance's own file is), so any character is
safe in a value here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from genropy_asgi import settings

DAEMON_DEFAULT_PORT = settings.DAEMON_PORT


@dataclass(frozen=True)
class GnrSetup:
    """Everything the config folder says. Secrets live here only in memory."""

    projects: Mapping[str, str]  # name -> folder holding GenroPy projects
    daemon_hmac_key: str
    daemon_host: str = "127.0.0.1"
    daemon_port: int = DAEMON_DEFAULT_PORT
    gnr_home: str | None = None  # GenroPy's package folder (``gnr``); default: the installed one
    wsgi: Mapping[str, str] = field(default_factory=lambda: {"debug": "False::B", "reload": "False::B"})
    db: Mapping[str, str] = field(default_factory=dict)  # implementation, host, port, user, password
    db_override: Mapping[str, str] = field(default_factory=dict)  # replaces the instance's own <db>
    remote_dbs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    xml_users: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # user -> {pwd, tags}
    site_extra: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # siteconfig element -> attrs
    tasks_async: bool = False  # environment.xml <tasks async_impl="true">: gnr web taskscheduler/taskworker
    external_secret: str = ""  # environment.xml <external_secret>: GenroPy's token key (see below)


def password_entry(password: str, salt: str) -> str:
    """An ``xml_auth`` ``pwd`` in GenroPy's salted form (``md5(password + salt):salt``).

    GenroPy (``GnrApp.validatePassword``) reads a 32-character ``pwd`` as an MD5 digest
    and a 65-character one with ``:`` as this form; anything else as plain text. So a
    plain random 32-character password never logs in, and plain text would sit in the
    config folder: always this form. ``salt`` must be 32 characters.
    """
    import hashlib

    if len(salt) != 32 or ":" in salt:
        raise ValueError("the salt of a GenroPy password is 32 characters without ':'")
    return f"{hashlib.md5((password + salt).encode()).hexdigest()}:{salt}"


def installed_gnr_home() -> str:
    import gnr

    return os.path.dirname(os.path.abspath(str(gnr.__file__)))


def element(tag: str, attrs: Mapping[str, object], indent: str = "\t", body: str = "") -> str:
    rendered = "".join(f" {name}={quoteattr(str(value))}" for name, value in attrs.items()
                       if value is not None and value != "")
    if body:
        return f"{indent}<{tag}{rendered}>\n{body}{indent}</{tag}>\n"
    return f"{indent}<{tag}{rendered}/>\n"


def document(body: str) -> str:
    if not body:
        return "<?xml version='1.0' encoding='UTF-8'?>\n<GenRoBag></GenRoBag>\n"
    return f"<?xml version='1.0' encoding='UTF-8'?>\n<GenRoBag>\n{body}</GenRoBag>\n"


def daemon_element(setup: GnrSetup) -> str:
    return element("gnrdaemon", {"host": setup.daemon_host, "port": setup.daemon_port,
                                 "hmac_key": setup.daemon_hmac_key})


def render_environment(setup: GnrSetup) -> str:
    home = setup.gnr_home or installed_gnr_home()
    projects = element("genropy", {"path": os.path.join(home, "projects")}, "\t\t")
    projects += "".join(element(name, {"path": path}, "\t\t") for name, path in setup.projects.items())
    js = "".join(
        element(name, {"path": os.path.join(home, *parts)}, "\t\t\t")
        for name, parts in (("dojo_11", ("dojo_libs", "dojo_11")), ("gnr_11", ("gnrjs", "gnr_d11")))
    )
    body = (
        element("environment", {}, "\t", element("gnrhome", {"value": home}, "\t\t"))
        + element("projects", {}, "\t", projects)
        + element("static", {}, "\t", element("js", {}, "\t\t", js))
        + element("resources", {}, "\t", element("genropy", {"path": os.path.join(home, "resources")}, "\t\t"))
        + element("webtools", {}, "\t", element("genropy", {"path": os.path.join(home, "webtools")}, "\t\t"))
        + daemon_element(setup)
        + (element("tasks", {"async_impl": "true"}) if setup.tasks_async else "")
        + external_secret_element(setup)
    )
    return document(body)


def external_secret_element(setup: GnrSetup) -> str:
    """GenroPy signs its auth tokens with ``environment.xml``'s ``external_secret`` and, when
    it is missing, every process building a site writes a random one into that file, in
    place (``getEnvironmentItem(..., update=True)``): processes starting together read a
    half-written file (measured: a site that never built) and sign with different keys, and
    so do pods. Written here, GenroPy only reads it. Derived from the daemon's HMAC key when
    none is given, so pods that share the key share it too."""
    secret = setup.external_secret or external_secret_for(setup.daemon_hmac_key)
    return f"\t<external_secret>{escape(secret)}</external_secret>\n"


def external_secret_for(hmac_key: str) -> str:
    import hashlib
    import hmac

    return hmac.new(hmac_key.encode(), b"genropy external_secret", hashlib.sha256).hexdigest()


def render_siteconfig(setup: GnrSetup) -> str:
    body = (
        element("wsgi", dict(setup.wsgi))
        + element("jslib", {"dojo_version": "11", "gnr_version": "11"})
        # "common" resources hold GenroPy's own services (storage "symbolic"...): without
        # this element every page fails with GNR-001 "no implementation 'symbolic'".
        + element("resources", {}, "\t", element("common", {}, "\t\t") + element("js_libs", {}, "\t\t"))
        + daemon_element(setup)
        + "".join(element(tag, attrs) for tag, attrs in setup.site_extra.items())
    )
    return document(body)


DB_OVERRIDE_ELEMENT = "genropy_asgi_db"
"""An element of instanceconfig/default.xml that GenroPy itself ignores: ``db_override_compat``
makes its attributes REPLACE the merged ``<db>``, the instance's own included."""


def render_instanceconfig(setup: GnrSetup) -> str:
    body = ""
    if setup.db:
        body += element("db", dict(setup.db))
    if setup.db_override:
        body += element(DB_OVERRIDE_ELEMENT, dict(setup.db_override))
    if setup.remote_dbs:
        body += element("remote_db", {}, "\t", "".join(
            element(name, dict(attrs), "\t\t") for name, attrs in setup.remote_dbs.items()))
    if setup.xml_users:
        users = "".join(element(user, dict(attrs), "\t\t\t") for user, attrs in setup.xml_users.items())
        body += element("authentication", {}, "\t",
                        element("xml_auth", {"defaultTags": "user,xml"}, "\t\t", users))
    # nothing to add: an EMPTY document (text or a comment alone would load as a string)
    return document(body)


def render_config_folder(setup: GnrSetup) -> dict[str, str]:
    return {
        "environment.xml": render_environment(setup),
        os.path.join("siteconfig", "default.xml"): render_siteconfig(setup),
        os.path.join("instanceconfig", "default.xml"): render_instanceconfig(setup),
    }


def write_config_folder(folder: str, files: Mapping[str, str]) -> None:
    """Write ``files`` under ``folder`` (mode 0600/0700) all at once: temp folder, then swap.

    Files already in ``folder`` that ``files`` does not name are kept (GenroPy adds
    its own, e.g. ``external_secret``).
    """
    folder = os.path.abspath(folder)
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".gnrconfig-", dir=parent)
    try:
        if os.path.isdir(folder):
            shutil.copytree(folder, staging, dirs_exist_ok=True)
        for relative, text in files.items():
            target = os.path.join(staging, relative)
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            with open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w",
                      encoding="utf-8") as handle:
                handle.write(text)
        os.chmod(staging, 0o700)
        if os.path.isdir(folder):
            retired = staging + ".old"
            os.rename(folder, retired)
            os.rename(staging, folder)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
