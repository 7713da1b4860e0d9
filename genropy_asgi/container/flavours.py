"""The image's flavours: which pinned packages and which GenroPy trees each one leaves out.

Pure data and one pure function (lock lines -> the lines a flavour installs); the
Dockerfile runs this file by path, before the package is installed:

    python3 flavours.py full requirements/image.lock > /tmp/install.txt
    python3 flavours.py --prune slim /opt/venv/lib/python3.13/site-packages

``full`` keeps every package GenroPy asks for; it leaves out only what no GenroPy code
imports (PyMuPDF 2.0's layout/LLM extras and the ONNX runtime and NumPy they pull in:
``import pymupdf``/``fitz`` work without them). ``slim`` also leaves out GenroPy's optional
features, each listed with what a site loses (README, "Image flavours"); a site that
uses one of them needs the full image. Which packages a left-out feature's own
dependencies are is checked in the built image (every installed distribution's
requirements are installed, tests/container/test_image_flavours.py).
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

FLAVOURS = ("full", "slim")

# No GenroPy code imports these; PyMuPDF 2.0 requires them for pymupdf4llm/pymupdf-layout.
UNUSED = ("pymupdf-layout", "pymupdf4llm", "onnxruntime", "numpy", "networkx", "flatbuffers", "protobuf",
          "tabulate", "sympy", "mpmath", "coloredlogs", "humanfriendly")

# slim: feature lost -> the packages that serve only it
OPTIONAL_FEATURES = {
    "PDF pages (GenroPy's pdf service and attachment previews: PyMuPDF, PyPDF2, pdf2image, pdftk)":
        ("pymupdf", "pypdf2", "pypdftk", "pdf2image"),
    "HTML to PDF printing (GenroPy's htmltopdf service: WeasyPrint and its fonts/CSS stack)":
        ("weasyprint", "cssselect2", "fonttools", "pydyf", "pyphen", "tinycss2", "tinyhtml5", "webencodings",
         "zopfli"),
    "Amazon Web Services (S3 storage, SQS queue, AWS translation: boto3, smart-open)":
        ("boto3", "botocore", "s3transfer", "jmespath", "smart-open", "wrapt"),
    "CalDAV calendars (gnrcaldav: caldav, icalendar, niquests)":
        ("caldav", "calendaring-config", "dnspython", "icalendar", "icalendar-searcher", "recurring-ical-events",
         "x-wr-timezone", "niquests", "urllib3-future", "jh2", "qh3", "wassima"),
    "git from GenroPy (gnrgit: dulwich)": ("dulwich",),
    "the dev package's Python source editor (redbaron)": ("redbaron", "baron", "rply", "appdirs"),
    "reStructuredText to HTML (rst2html service, handbooks: docutils)": ("docutils",),
}

# slim: GenroPy trees left out of site-packages/gnr (feature lost -> paths)
OPTIONAL_TREES = {
    "the dojo 2.0 preview (GenroPy 26.10 ships no gnr_d20 front end for it)": ("gnr/dojo_libs/dojo_20",),
}

def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def left_out(flavour: str) -> set[str]:
    """The normalized names of the packages ``flavour`` does not install."""
    if flavour not in FLAVOURS:
        raise ValueError(f"FLAVOUR={flavour!r}: expected one of {', '.join(FLAVOURS)}")
    names = set(map(normalized, UNUSED))
    if flavour == "slim":
        names |= {normalized(p) for packages in OPTIONAL_FEATURES.values() for p in packages}
    return names


def select(lock_lines: list[str], flavour: str) -> list[str]:
    """The lock's lines ``flavour`` installs (comments and blank lines dropped)."""
    dropped = left_out(flavour)
    kept = []
    for line in lock_lines:
        requirement = line.split("#", 1)[0].strip()
        if not requirement:
            continue
        name = re.split(r"[=<>!~\[; ]", requirement, maxsplit=1)[0]
        if normalized(name) not in dropped:
            kept.append(requirement)
    return kept


def trees(flavour: str) -> list[str]:
    """The site-packages-relative folders ``flavour`` removes."""
    left_out(flavour)  # validates the name
    return [path for paths in OPTIONAL_TREES.values() for path in paths] if flavour == "slim" else []


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "--prune":
        site_packages = Path(argv[2])
        for relative in trees(argv[1]):
            shutil.rmtree(site_packages / relative)
        return 0
    if len(argv) != 2:
        print("usage: flavours.py FLAVOUR LOCKFILE | --prune FLAVOUR SITE_PACKAGES", file=sys.stderr)
        return 2
    try:
        lines = select(Path(argv[1]).read_text().splitlines(), argv[0])
    except ValueError as exc:
        print(f"genropy-asgi: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
