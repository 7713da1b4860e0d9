"""The served instance's folder on disk, as the launch plan's project roots lead to it.

One function, used by the entrypoint and its steps (database, backups): the first
``<root>/<project>/instances/<site>``, projects in name order (GenroPy's own order is the
order of its glob; the plan refuses a site no project has).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genropy_asgi.container.plan import LaunchPlan


def instance_folder(plan: LaunchPlan) -> str | None:
    for root in plan.project_roots:
        if not os.path.isdir(root):
            continue
        for project in sorted(os.listdir(root)):
            candidate = os.path.join(root, project, "instances", plan.site)
            if os.path.isdir(candidate):
                return candidate
    return None
