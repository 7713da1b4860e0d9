"""The image flavours' package selection (genropy_asgi.container.flavours), and the
Dockerfile staying free of architecture-specific steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from genropy_asgi.container import flavours

REPO = Path(__file__).resolve().parents[2]
LOCK = (REPO / "requirements" / "image.lock").read_text().splitlines()


def names(lines: list[str]) -> set[str]:
    return {flavours.normalized(line.split("==")[0]) for line in lines}


def test_full_leaves_out_only_what_genropy_never_imports():
    full = names(flavours.select(LOCK, "full"))
    everything = names([line for line in LOCK if "==" in line and not line.startswith("#")])
    assert everything - full == set(map(flavours.normalized, flavours.UNUSED)) & everything
    assert {"genropy", "pymupdf", "weasyprint", "boto3", "caldav"} <= full


def test_slim_leaves_out_the_optional_features_too():
    slim = names(flavours.select(LOCK, "slim"))
    for packages in flavours.OPTIONAL_FEATURES.values():
        assert not slim & set(map(flavours.normalized, packages))
    assert {"genropy", "genro-asgi", "uvicorn", "psycopg2-binary", "paramiko", "pillow", "openpyxl", "babel"} <= slim


def test_every_left_out_package_is_one_the_lock_pins():
    pinned = names([line for line in LOCK if "==" in line and not line.startswith("#")])
    optional = {flavours.normalized(p) for packages in flavours.OPTIONAL_FEATURES.values() for p in packages}
    assert optional <= pinned, optional - pinned  # a stale name would silently keep nothing out


def test_names_are_compared_normalized():
    assert flavours.select(["PyPDF2==3.0.1", "Pyro4==4.82", "# comment", ""], "slim") == ["Pyro4==4.82"]


def test_an_unknown_flavour_is_refused(capsys):
    with pytest.raises(ValueError, match="FLAVOUR='tiny': expected one of full, slim"):
        flavours.select(LOCK, "tiny")
    assert flavours.main(["tiny", str(REPO / "requirements" / "image.lock")]) == 2
    assert capsys.readouterr().err.strip() == "genropy-asgi: FLAVOUR='tiny': expected one of full, slim"


def test_slim_prunes_the_dojo_preview_only():
    assert flavours.trees("full") == []
    assert flavours.trees("slim") == ["gnr/dojo_libs/dojo_20"]


def test_the_dockerfile_has_no_architecture_specific_step():
    text = (REPO / "Dockerfile").read_text()
    for word in ("x86_64", "amd64", "aarch64", "arm64", "linux-gnu"):
        assert word not in text.replace("--platform linux/arm64", ""), word
