"""A project as other people's repositories come (issue: the first hour): no ``root.py`` in its
instance, its own ``xml_auth`` admin named like the image's. Served as is, both admins log in."""

from __future__ import annotations

import shutil

import pytest
from support import DEMO_PROJECT

from genropy_asgi.launch.gnrconfig import password_entry
from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.containers import GenropyAsgiContainer

pytestmark = pytest.mark.docker

OWN_ADMIN = ("<authentication pkg=\"gnrcore:sys\">\n"
             "\t\t<xml_auth defaultTags=\"user,xml\"><admin pwd=\"{pwd}\" tags=\"admin,user\"/></xml_auth>\n"
             "\t\t<py_auth defaultTags=\"user\" pkg=\"adm\" method=\"authenticate\"/>\n\t</authentication>")


def login(page: GenropyPage, user: str, password: str) -> None:
    page.rpc("login_doLogin", login=f"<GenRoBag><user>{user}</user><password>{password}</password></GenRoBag>::BAG",
             rootenv="<GenRoBag></GenRoBag>::BAG")


@pytest.fixture
def stranger(tmp_path):
    project = tmp_path / "stranger"
    shutil.copytree(DEMO_PROJECT, project, ignore=shutil.ignore_patterns("data", "site", "__pycache__"))
    instance = project / "instances" / "demo"
    (instance / "root.py").unlink()
    config = instance / "config" / "instanceconfig.xml"
    text = config.read_text()
    start, end = text.index("<authentication"), text.index("</authentication>") + len("</authentication>")
    own = OWN_ADMIN.format(pwd=password_entry("Their-Own-1", "s" * 32))
    config.write_text(text[:start] + own + text[end:])
    return project


def test_served_as_is_with_both_admins(image, stranger):
    # the testing module gives its admin the name the image would (no clash, nothing to say)
    assert GenropyAsgiContainer(image, project_dir=stranger, site_name="demo").with_admin().admin.user == "admin2"
    site = GenropyAsgiContainer(image, project_dir=stranger, site_name="demo")
    site.with_env("GNR_ADMIN_USER", "admin").with_secret("GNR_ADMIN_PASSWORD", "Image-Admin-1")
    with site:
        logs = site.get_wrapped_container().logs().decode(errors="replace")
        assert "no root.py for site demo" in logs and "instances/demo/site/root.py" in logs
        assert "defines its own xml_auth user 'admin'" in logs and "logs in as 'admin2'" in logs
        assert "Traceback" not in logs
        theirs = GenropyPage(site.get_url())
        login(theirs, "admin", "Their-Own-1")
        assert theirs.rpc("whoami") == "admin"
        ours = GenropyPage(site.get_url())
        login(ours, "admin2", "Image-Admin-1")
        assert ours.rpc("whoami") == "admin2"
        instance = "/srv/projects/stranger/instances/demo"
        assert site.exec(["test", "-f", f"{instance}/site/root.py"]).exit_code == 0  # supplied here
        assert site.exec(["test", "-e", f"{instance}/root.py"]).exit_code != 0  # not in the project
