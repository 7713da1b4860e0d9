"""The Python requirements of GenroPy packages, by GenroPy's own convention.

Each GenroPy package may hold a ``requirements.txt`` (one requirement per line;
``GnrApp.check_package_dependencies`` and ``gnr app checkdep -i`` read the same files).
This module finds them, without building a ``GnrApp``:

- ``instance_packages``: the packages an instance's ``config/instanceconfig.xml`` lists
  (``gnrcore:sys`` or ``mypkg``);
- ``requirement_files``: where each one's ``requirements.txt`` is, among the project
  folders and GenroPy's bundled projects;
- ``missing_requirements``: which requirements no installed distribution satisfies,
  and which GenroPy package wants each;
- ``gnrcore_requirements``: what GenroPy's own bundled packages need (the image's lock
  is made from it), minus ``GNRCORE_LEFT_OUT``.

``python -m genropy_asgi.container.project_requirements gnrcore`` prints the latter, one per line.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata

GNRCORE_LEFT_OUT = {
    "docu": "GenroPy's documentation builder (sphinx and its themes)",
    "dev": "GenroPy's developer tools (redbaron)",
    "test": "GenroPy's sample/test package (IMDbPY)",
    "test15": "GenroPy's sample/test package (redbaron, docker)",
}
"""gnrcore packages whose requirements the image leaves out: none of them serves a site.
An instance that lists one gets them like a project's own (GENROPY_PROJECT_REQUIREMENTS)."""


def gnr_projects_dir() -> str:
    """GenroPy's bundled projects (``gnrcore``) in this environment."""
    import gnr

    return os.path.join(os.path.dirname(gnr.__file__), "projects")


def read_requirements(path: str) -> list[str]:
    """The requirement lines of a ``requirements.txt`` (comments and blanks dropped)."""
    with open(path, encoding="utf-8") as handle:
        lines = [line.split("#", 1)[0].strip() for line in handle]
    return [line for line in lines if line and not line.startswith("-")]


def instance_packages(instanceconfig_xml: str) -> list[str]:
    """``<packages>`` of an instanceconfig: the ``pkgcode`` attribute, else the tag."""
    root = ET.fromstring(instanceconfig_xml)
    packages = root.find("packages")
    if packages is None:
        return []
    return [child.get("pkgcode") or child.tag for child in packages]


def requirement_files(packages: Iterable[str], project_roots: Iterable[str],
                      gnr_projects: str | None = None) -> dict[str, str]:
    """``{package: its requirements.txt}`` for the packages that have one.

    ``project:package`` is looked up in that project; a bare ``package`` in every project
    of every root (GenroPy's own search), the bundled projects last.
    """
    roots = [*project_roots, gnr_projects or gnr_projects_dir()]
    found: dict[str, str] = {}
    for entry in packages:
        project, _, package = entry.rpartition(":")
        for root in roots:
            pattern = os.path.join(root, project or "*", "packages", package, "requirements.txt")
            matches = sorted(glob.glob(pattern))
            if matches:
                found[entry] = matches[0]
                break
    return found


def project_requirement_files(project_dir: str) -> list[str]:
    """Every package's ``requirements.txt`` of one project (what a derived image installs)."""
    return sorted(glob.glob(os.path.join(project_dir, "packages", "*", "requirements.txt")))


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def missing_requirements(files: Mapping[str, str],
                         installed: Callable[[str], str | None] = installed_version,
                         bundled_left_out: Iterable[str] = (), gnr_projects: str | None = None) -> dict[str, list[str]]:
    """``{requirement: [packages wanting it]}`` for requirements nothing installed satisfies.

    ``bundled_left_out``: normalized names the image's flavour leaves out on purpose
    (``genropy_asgi.container.flavours``); GenroPy's bundled packages (under
    ``gnr_projects``) asking for one of them are not missing anything. A project's own
    package asking for one still is (and gets it installed).
    """
    from packaging.requirements import InvalidRequirement, Requirement

    from genropy_asgi.container.flavours import normalized

    left_out = set(bundled_left_out)
    bundled = os.path.join(gnr_projects or gnr_projects_dir(), "") if left_out else None
    missing: dict[str, list[str]] = {}
    for package, path in files.items():
        for line in read_requirements(path):
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                missing.setdefault(line, []).append(package)
                continue
            if bundled and path.startswith(bundled) and normalized(requirement.name) in left_out:
                continue
            version = installed(requirement.name)
            if version is None or (requirement.specifier and not requirement.specifier.contains(version, True)):
                missing.setdefault(line, []).append(package)
    return missing


def requirements_key(requirements: Iterable[str]) -> str:
    """A short stable key for a set of requirements on this Python (the install cache's folder)."""
    text = "\n".join(sorted(set(requirements))) + f"\npython{sys.version_info.major}.{sys.version_info.minor}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def gnrcore_requirements(gnr_projects: str | None = None) -> list[str]:
    """Every requirement of GenroPy's bundled packages that serve sites (no duplicates)."""
    pattern = os.path.join(gnr_projects or gnr_projects_dir(), "gnrcore", "packages", "*", "requirements.txt")
    wanted: dict[str, None] = {}
    for path in sorted(glob.glob(pattern)):
        if os.path.basename(os.path.dirname(path)) not in GNRCORE_LEFT_OUT:
            for line in read_requirements(path):
                wanted.setdefault(line, None)
    return list(wanted)


_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")
_TRACEBACK_FILE = re.compile(r'File "([^"]+)", line \d+')


def missing_module(output: str, project_roots: Iterable[str]) -> tuple[str, str | None] | None:
    """From a failed GenroPy command's output: the module it could not import, and the
    project file that imported it (the last traceback frame under a project root)."""
    found = _MISSING_MODULE.findall(output)
    if not found:
        return None
    roots = tuple(os.path.join(root, "") for root in project_roots)
    frames = [path for path in _TRACEBACK_FILE.findall(output) if path.startswith(roots)]
    return found[-1], (frames[-1] if frames else None)


def describe_missing_module(module: str, importer: str | None) -> str:
    where = f" imported by {importer}" if importer else ""
    package = ""
    if importer and f"{os.sep}packages{os.sep}" in importer:
        package_dir = importer.split(f"{os.sep}packages{os.sep}", 1)
        package = os.path.join(package_dir[0], "packages", package_dir[1].split(os.sep, 1)[0], "requirements.txt")
    declare = f"add the distribution that provides it to {package}" if package else \
        "add the distribution that provides it to the package's requirements.txt"
    return (f"the Python module {module!r}{where} is not installed: {declare} (GenroPy's convention), "
            "then set GENROPY_PROJECT_REQUIREMENTS=install or build a derived image (docs/own-project.md)")


def describe_missing(missing: Mapping[str, list[str]]) -> str:
    return "; ".join(f"{requirement} (wanted by {', '.join(packages)})" for requirement, packages in missing.items())


if __name__ == "__main__":
    if sys.argv[1:] != ["gnrcore"]:
        sys.exit("usage: python -m genropy_asgi.container.project_requirements gnrcore")
    print("\n".join(gnrcore_requirements()))
