"""GenroPy packages' requirements.txt: found, checked, and GenroPy's own all in the image lock."""

from __future__ import annotations

import re

from support import REPO

from genropy_asgi.container.project_requirements import (
    GNRCORE_LEFT_OUT,
    gnrcore_requirements,
    instance_packages,
    missing_requirements,
    requirement_files,
    requirements_key,
)

SHELF = REPO / "tests" / "projects"


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_gnrcore_requirement_is_pinned_in_the_image_lock():
    pinned = {normalized(line.split("==")[0]) for line in (REPO / "requirements" / "image.lock").read_text().splitlines()
              if "==" in line and not line.startswith("#")}
    wanted = {normalized(re.split(r"[<>=!~\[; ]", line)[0]) for line in gnrcore_requirements()}
    assert wanted and wanted <= pinned, wanted - pinned
    assert {"pdf2image", "watchdog", "pyotp", "qrcode", "mail-parser"} <= wanted
    assert "sphinx" not in wanted and set(GNRCORE_LEFT_OUT) == {"docu", "dev", "test", "test15"}


def test_instance_packages_and_their_files():
    config = (SHELF / "shelf" / "instances" / "shelfsite" / "config" / "instanceconfig.xml").read_text()
    packages = instance_packages(config)
    assert packages == ["gnrcore:sys", "gnrcore:adm", "gnrcore:email", "shelf"]
    files = requirement_files(packages, [str(SHELF)])
    assert files["shelf"].endswith("tests/projects/shelf/packages/shelf/requirements.txt")
    assert files["gnrcore:email"].endswith("gnrcore/packages/email/requirements.txt")


def test_missing_names_the_package_that_wants_it(tmp_path):
    (tmp_path / "reqs.txt").write_text("humanize\n# a comment\n\nrequests>=99\nsix\n")
    installed = {"six": "1.16.0", "requests": "2.31.0"}.get
    missing = missing_requirements({"shelf": str(tmp_path / "reqs.txt")}, installed)
    assert missing == {"humanize": ["shelf"], "requests>=99": ["shelf"]}
    assert requirements_key(["a", "b"]) == requirements_key(["b", "a", "a"]) != requirements_key(["a"])


def test_an_undeclared_import_is_named_with_its_importer_and_the_file_to_fix():
    from genropy_asgi.container.project_requirements import describe_missing_module, missing_module

    output = ('Traceback (most recent call last):\n  File "/opt/venv/lib/python3.13/site-packages/gnr/app/gnrapp.py",'
              ' line 703, in loadTableMixinDict\n  File "/srv/projects/cineclub/packages/cine/model/cast.py", line 3,'
              " in <module>\n    from imdb import IMDb\nModuleNotFoundError: No module named 'imdb'\n")
    found = missing_module(output, ["/srv/projects"])
    assert found == ("imdb", "/srv/projects/cineclub/packages/cine/model/cast.py")
    line = describe_missing_module(*found)
    assert "'imdb' imported by /srv/projects/cineclub/packages/cine/model/cast.py" in line
    assert "/srv/projects/cineclub/packages/cine/requirements.txt" in line and "\n" not in line
    assert missing_module("ImportError: cannot import name 'x'", ["/srv/projects"]) is None


def test_what_the_flavour_leaves_out_is_not_missing_for_genropys_own_packages(tmp_path):
    bundled = tmp_path / "gnr_projects" / "gnrcore" / "packages" / "sys"
    own = tmp_path / "mine" / "packages" / "shop"
    for folder in (bundled, own):
        folder.mkdir(parents=True)
        (folder / "requirements.txt").write_text("PyPDF2\npdf2image>=1\n")
    files = {"gnrcore:sys": str(bundled / "requirements.txt"), "shop": str(own / "requirements.txt")}
    missing = missing_requirements(files, lambda name: None, bundled_left_out={"pypdf2", "pdf2image"},
                                   gnr_projects=str(tmp_path / "gnr_projects"))
    assert missing == {"PyPDF2": ["shop"], "pdf2image>=1": ["shop"]}  # the project's own still asks
