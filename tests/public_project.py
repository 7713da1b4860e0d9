"""A public GenroPy application nobody here wrote, for the tests that follow the docs with it.

GenroPy's own invoicing sample, ``test_invoice``, published with GenroPy on PyPI (LGPL-2.1 or
later, in ``gnr/projects/``): packages ``gnrcore:sys``, ``gnrcore:adm`` and ``invc`` (17 tables),
an instance ``test_invoice_pg`` whose ``<db>`` says PostgreSQL on ``localhost`` and which has no
``root.py``, its data as CSV files with its own import script (``data/import_csv.py``) and its
users exported from ``adm.user`` with their passwords hashed as GenroPy hashes them. It is taken
out of the image under test, so it is always the release the image runs (no network needed).
"""

from __future__ import annotations

import csv
import io
import subprocess
import tarfile
from pathlib import Path

import httpx

from genropy_asgi.testing.client import GenropyClient

NAME = "test_invoice"
SITE = "test_invoice_pg"
DATABASE = "test_invoice_pg"  # its instance's <db dbname>
TABLE_PAGE = "/sys/thpage/invc/customer"  # GenroPy's own page of one of its tables
OWN_USER = ("james.wilson", "james")  # the first row of its data/export/user.csv


def copy_out_of(image: str, destination: Path, docker: str = "docker") -> Path:
    """``gnr/projects/test_invoice`` of ``image``'s GenroPy, as ``destination/test_invoice``."""
    where = subprocess.run([docker, "run", "--rm", "--entrypoint", "python", image, "-c",
                            "import gnr, os; print(os.path.dirname(gnr.__file__))"],
                           capture_output=True, text=True, check=True, timeout=120).stdout.split()[-1]
    archive = subprocess.run([docker, "run", "--rm", "--entrypoint", "tar", image, "-C", f"{where}/projects",
                              "--exclude=__pycache__", "-c", NAME], capture_output=True, check=True, timeout=120).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")
    project = destination / NAME
    assert (project / "instances" / SITE / "instanceconfig.xml").is_file()
    assert not (project / "instances" / SITE / "root.py").exists()  # as the repository comes
    return project


def csv_rows(project: Path, table: str) -> int:
    with (project / "data" / "export" / f"{table}.csv").open(newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def import_command(project_in_container: str, host: str, user: str) -> list[str]:
    """Its data through its own import code (``data/import_csv.py``'s ``import_csv_file``, every table
    and its invoices, after ``region``, which the script's own order leaves out although ``state``
    points at it), then its users (``data/export/user.csv``, also left out) into ``adm.adm_user``;
    through libpq, the password in ``PGPASSWORD`` (set by the caller)."""
    data = f"{project_in_container}/data"
    script = (f"import csv, sys\nsys.path.insert(0, '{data}')\nimport import_csv as own\n"
              f"db = own.get_pg_connection('{DATABASE}', '{host}', '5432', '{user}')\n"
              "for table in ['region'] + own.TABLES_ORDER + own.INVOICE_TABLES:\n"
              f"    own.import_csv_file(db, 'postgres', table, '{data}/export/' + table + '.csv')\n"
              f"rows = list(csv.DictReader(open('{data}/export/user.csv', newline='')))\n"
              "with db, db.cursor() as cursor:\n"
              "    for row in rows:\n"
              "        row = {k: v for k, v in row.items() if v != ''}\n"
              "        cursor.execute('INSERT INTO adm.adm_user (%s) VALUES (%s)' % (\n"
              "            ','.join(row), ','.join(['%s'] * len(row))), list(row.values()))\n"
              "print(len(rows), 'users')\n")
    return ["python", "-c", script]


def served_as_its_users_expect(url: str, admin: tuple[str, str], project: Path) -> None:
    """Its own page and a table page; the image's admin and (after its own import) its own user log in;
    the bridge lists nothing (no ``openapi`` flag in its model)."""
    assert httpx.get(url + "/invc/index", timeout=60).status_code == 200
    for user, password in (admin, OWN_USER):
        client = GenropyClient(url)
        client.login(user, password)
        avatar = client.page("/index").rpc("login_checkAvatar", user=user, password=password)
        assert avatar["avatar.user"] == user
        table_page = client.page(TABLE_PAGE).rpc_raw("main")  # what the browser's page builds
        assert table_page.status_code == 200 and 'table="invc.customer"' in table_page.text
        client.close()
    listed = httpx.get(url + "/_data/tables", auth=admin, timeout=60)
    assert listed.status_code == 200 and listed.json() == [], listed.text[:500]
    assert csv_rows(project, "customer") > 0
