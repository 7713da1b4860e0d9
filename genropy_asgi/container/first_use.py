"""``python -m genropy_asgi.container.first_use SITE``: create what GenroPy creates on a site's first use.

GenroPy creates the main preference record (``adm.preference`` ``_mainpref_``) the first
time a site is built, with a plain INSERT. In a container several processes build the
site at once on a fresh database (the web server, ``gnr web async``, task workers,
gunicorn workers): one INSERT wins and the others die with a duplicate key
(measured with PostgreSQL under ``docker compose up``). Running this once, right after
``gnr db setup`` and under the same lock, makes the record exist before any of them
starts. Projects without GenroPy's ``adm`` package have nothing to create.
"""

from __future__ import annotations

import sys


def create_main_preference(site_name: str) -> bool:
    """Load (so create if missing) the main preference record; ``False`` without ``adm``."""
    from gnr.app.gnrapp import GnrApp

    app = GnrApp(site_name)
    try:
        if "adm" not in app.db.packages:
            return False
        app.db.table("adm.preference").loadPreference()
        app.db.commit()
        return True
    finally:
        app.db.closeConnection()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m genropy_asgi.container.first_use SITE\n")
        return 2
    create_main_preference(argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
