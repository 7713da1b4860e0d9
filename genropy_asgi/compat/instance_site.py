"""An instance whose ``root.py`` lives in its site folder is a site, as if it were beside it.

Why this exists: GenroPy 26.10 serves an instance as a site only when ``<instance>/root.py``
exists (``PathResolver.entity_name_to_path``); ``gnr app mkinstance`` writes that file, but many
projects' repositories do not carry it (it is generated, and ignored or never committed). Such a
project resolves to "site not found" in every GenroPy process although its instance is there.
GenroPy's own server (``gnr/web/serverwsgi.py``) looks for the script in the site folder FIRST
(``<site>/root.py``, then ``<site>/../root.py``): a root.py inside ``<instance>/site`` -- a
runtime folder GenroPy writes to anyway -- is one GenroPy already accepts, except for this
resolution step.

What it does: when GenroPy finds no site of a name, and an instance of that name has
``site/root.py`` (the image's entrypoint writes GenroPy's standard one there,
``STANDARD_ROOT_PY``, for an instance without its own), the instance's site folder is the
answer, as GenroPy gives it for an instance with ``root.py``. Nothing changes for a project
that has its own ``root.py``, and no project file is written.

When to drop it: ``tests/compat/test_instance_site_compat.py`` fails the day GenroPy stops
requiring ``<instance>/root.py`` (or changes how it resolves sites).
"""

from __future__ import annotations

import functools
import glob
import os
from typing import Any

TARGET_MODULE = "gnr.app.pathresolver"

# What ``gnr app mkinstance`` writes (gnr/dev/makers/instance.py), minus its __main__ block (which
# starts GenroPy's own werkzeug server), naming the site after the instance from its site folder.
STANDARD_ROOT_PY = """\
# GenroPy's standard root.py (as `gnr app mkinstance` writes it), supplied by genropy-asgi
# because the project has none: this file is runtime state, never part of the project.
import os
import sys
sys.stdout = sys.stderr
from gnr.web.gnrwsgisite import GnrWsgiSite
_folder = os.path.dirname(os.path.abspath(__file__))
# in <instance>/site the site is the instance's name; in sites/<name>, GenroPy's own rule
site = GnrWsgiSite(os.path.basename(os.path.dirname(_folder)) if os.path.basename(_folder) == "site" else __file__)

def application(environ, start_response):
    return site(environ, start_response)
"""


def instance_site_folder(project_roots: list[str], name: str) -> str | None:
    """``<project>/instances/<name>/site`` of the first project root having one with a root.py."""
    for root in project_roots:
        for instance in sorted(glob.glob(os.path.join(root, "*", "instances", name))):
            site = os.path.join(instance, "site")
            if os.path.isfile(os.path.join(site, "root.py")):
                return site
    return None


def patch_pathresolver_module(module: Any) -> None:
    original = module.PathResolver.entity_name_to_path

    @functools.wraps(original)
    def entity_name_to_path(self: Any, entity_name: str, entity_type: str, look_in_projects: bool = True) -> Any:
        try:
            return original(self, entity_name, entity_type, look_in_projects)
        except module.EntityNotFoundException:
            if entity_type != "site" or not look_in_projects:
                raise
            environment = self.gnr_config["gnr.environment_xml"]
            roots = [module.expandpath(path) for path in environment.digest("projects:#a.path")] \
                if environment and "projects" in environment else []
            if os.environ.get("GNR_LOCAL_PROJECTS"):  # GenroPy looks there first too
                roots.insert(0, module.expandpath(os.environ["GNR_LOCAL_PROJECTS"]))
            found = instance_site_folder([root for root in roots if os.path.isdir(root)], entity_name)
            if found is None:
                raise
            return module.expandpath(found)

    module.PathResolver.entity_name_to_path = entity_name_to_path
    module.GENROPY_ASGI_INSTANCE_SITE_COMPAT = "an instance with site/root.py is a site"
