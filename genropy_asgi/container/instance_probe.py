"""``python -m genropy_asgi.container.instance_probe SITE``: load the instance as every program will.

The ``check`` mode (compose's ``site-check``, the chart's checks) runs it: GenroPy's ``GnrApp``
for the instance, with the configuration the programs get: its packages found and imported,
their models built. It opens no database connection (measured: the demo builds in 2.7 s with
its PostgreSQL unreachable), so it runs before the database is up. What fails here would
fail every program's start the same way, after the container was declared ready to serve:
a package named in ``instanceconfig.xml`` that no project has, a module a package imports but
nothing installs, a syntax error in a model.

Exit 0 when it loads; else 2 and ONE line on stderr: the error and where it comes from in the
project (``entrypoint`` adds the missing-module advice).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genropy_asgi.container.plan import LaunchPlan

FRAME = re.compile(r'File "([^"]+)", line (\d+)')


def one_line(error: BaseException, project_roots: list[str]) -> str:
    """``Type: message`` and the innermost frame in the project (else the innermost frame)."""
    if isinstance(error, SyntaxError) and error.filename:  # where the bad code is, not who imported it
        return f"SyntaxError: {error.msg} ({error.filename}:{error.lineno})"
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if any(frame.filename.startswith(root) for root in project_roots)]
    where = (ours or frames)[-1] if frames else None
    message = " ".join(str(error).split()) or "(no message)"
    located = f" ({where.filename}:{where.lineno})" if where is not None else ""
    return f"{type(error).__name__}: {message}{located}"


def load_problem(plan: LaunchPlan) -> str | None:
    """Run the probe with the programs' configuration (written to a folder of its own, removed
    after): ``None`` when the instance loads, else the one line to show."""
    from genropy_asgi.container import project_requirements as reqs
    from genropy_asgi.launch.gnrconfig import write_config_folder

    os.makedirs(plan.env["TMPDIR"], exist_ok=True)
    folder = tempfile.mkdtemp(prefix="check-", dir=plan.env["TMPDIR"])
    try:
        config = os.path.join(folder, "gnr")
        write_config_folder(config, plan.files)
        command = [os.path.join(plan.venv_bin, "python"), "-m", __name__, plan.site,
                   *dict.fromkeys([*plan.project_roots, *map(os.path.realpath, plan.project_roots)])]
        result = subprocess.run(command, env={**plan.env, "GENRO_GNRFOLDER": config}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if result.returncode == 0:
        return None
    missing = reqs.missing_module(result.stdout, plan.project_roots)
    if missing:
        return f"GenroPy cannot load instance {plan.site}: {reqs.describe_missing_module(*missing)}"
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return plan.masked(f"GenroPy cannot load instance {plan.site}: {lines[-1] if lines else 'no output'}")


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("usage: python -m genropy_asgi.container.instance_probe SITE [PROJECT_ROOT...]\n")
        return 2
    site, roots = argv[0], argv[1:]
    try:
        from gnr.app.gnrapp import GnrApp

        GnrApp(site)
    except BaseException as exc:  # noqa: BLE001 -- whatever GenroPy raises is the answer
        sys.stderr.write(f"{one_line(exc, roots)}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
