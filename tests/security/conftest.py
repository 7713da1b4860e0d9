"""The attack suite's target: a real GenroPy site (demo project, real gnrdaemon, ``gnr web async``)
served by ``gnrasgiserve`` on 127.0.0.1, with canary files where no URL may reach and storages a
site's own configuration adds (one rooted at ``/``, one inside the site)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import httpx
import pytest
from support import DEMO_PROJECT, start_server

from genropy_asgi.testing.local import GnrDaemonProcess, GnrWorkspace

WEBSOCKETS_ON = {"debug": "False::B", "reload": "False::B", "websockets": "True::B"}
CONFIGURED_STORAGES = ('<services><storage><everything implementation="local" base_path="/"/>'
                       '<configfolder implementation="local" base_path="{config}"/>'
                       '<uploads implementation="local" base_path="{site}/uploads"/></storage></services>')
SERVER_ENV = {"GENROPY_WS_MAX_PER_CLIENT": "6", "GENROPY_WS_MAX_MESSAGE_BYTES": "65536",
              "GENROPY_BODY_TIMEOUT": "3", "GENROPY_HEADER_TIMEOUT": "3"}


class Target:
    """The site under attack and what must never leak from it."""

    def __init__(self, server, workspace: GnrWorkspace, canaries: dict[str, bytes]) -> None:
        self.server = server
        self.workspace = workspace
        self.canaries = canaries
        self.port = server.port
        self.base_url = server.base_url

    def secrets(self) -> list[bytes]:
        """Lines that must appear in no answer: canaries, the generated config's keys, /etc/passwd."""
        lines = list(self.canaries.values())
        for name in ("environment.xml", "siteconfig/default.xml"):
            text = (self.workspace.config_dir / name).read_text()
            lines += [match.encode() for match in re.findall(r'hmac_key="[^"]+"', text)]
        lines += [line.encode() for line in Path("/etc/passwd").read_text().splitlines()[:2]]
        return lines

    def leaked(self, answer: bytes) -> list[bytes]:
        return [line for line in self.secrets() if line in answer]

    def page(self) -> tuple[httpx.Client, str]:
        """A browser's session: its cookie jar and the page id of a freshly served page."""
        client = httpx.Client(base_url=self.base_url, timeout=60)
        html = client.get("/index").text
        return client, re.search(r"page_id['\"]?\s*[:=]\s*['\"]([^'\"]+)", html).group(1)


@pytest.fixture(scope="session")
def target(tmp_path_factory):
    root = tmp_path_factory.mktemp("attack")
    workspace = GnrWorkspace.create(DEMO_PROJECT, root=root, wsgi=WEBSOCKETS_ON)
    siteconfig = workspace.config_dir / "siteconfig" / "default.xml"
    site_folder = workspace.instance_dir / "site"
    siteconfig.write_text(siteconfig.read_text().replace(
        "</GenRoBag>", CONFIGURED_STORAGES.format(config=workspace.config_dir, site=site_folder) + "</GenRoBag>"))
    workspace.db_setup()
    canaries = {}
    for name, folder in (("tmp", Path(tempfile.gettempdir())), ("config", workspace.config_dir),
                         ("instance", workspace.instance_dir / "config")):
        canary = f"genropy-asgi canary {name} {root.name}".encode()
        (folder / f"canary-{root.name}.txt").write_bytes(canary)
        canaries[name] = canary
    (site_folder / "uploads").mkdir(parents=True, exist_ok=True)
    (site_folder / "uploads" / "public.txt").write_text("a file the site serves\n")
    daemon = GnrDaemonProcess(workspace)
    server = start_server(workspace, "gnrasgiserve", "--nodebug", ready_path="/_server/ready", env=SERVER_ENV)
    yield Target(server, workspace, canaries)
    server.stop()
    daemon.stop()
    (Path(tempfile.gettempdir()) / f"canary-{root.name}.txt").unlink(missing_ok=True)
