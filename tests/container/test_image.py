"""The image: serves the demo site, on SQLite and PostgreSQL, as any UID, read-only."""

from __future__ import annotations

import time

import httpx

from genropy_asgi.testing.client import GenropyPage
from genropy_asgi.testing.containers import GenropyAsgiContainer


def test_serves_the_demo_on_sqlite(image):
    with GenropyAsgiContainer(image) as site:
        url = site.get_url()
        assert httpx.get(url + "/index").status_code == 200
        info = httpx.get(url + "/_server/info").json()
        assert info["site"] == "demo" and info["versions"]["genropy"] == "26.10.26"
        assert info["versions"]["python"].startswith("3.13")
        assert httpx.get(url + "/_server/ready").status_code == 200
        page = GenropyPage(url)
        page.rpc("add_note", title="in the container")
        assert "in the container" in page.rpc("note_titles")
        deadline = time.monotonic() + 60  # the image's HEALTHCHECK turns healthy
        while time.monotonic() < deadline:
            site.get_wrapped_container().reload()
            if site.get_wrapped_container().attrs["State"]["Health"]["Status"] == "healthy":
                break
            time.sleep(2)
        assert site.get_wrapped_container().attrs["State"]["Health"]["Status"] == "healthy"
        logs = site.get_wrapped_container().logs().decode(errors="replace")
        assert "missing dependencies" not in logs and "No module named" not in logs
        assert "database: sqlite " in logs


def test_serves_the_demo_on_postgresql(image, postgres_image):
    with GenropyAsgiContainer(image).with_postgres(image=postgres_image) as site:
        page = GenropyPage(site.get_url())
        page.rpc("add_note", title="stored in the postgres container")
        rows = site.postgres.exec(["psql", "-U", "genropy", "-d", "demo", "-At", "-c",
                                   "SELECT title FROM demo.demo_note"]).output.decode()
        assert "stored in the postgres container" in rows
        assert httpx.get(site.get_url() + "/_server/ready").json()["checks"]["database answers"] == "ok"


def test_arbitrary_uid_and_read_only_root_filesystem(image):
    container = GenropyAsgiContainer(image, user="12345:0", read_only=True)
    container.tmpfs["/var/lib/genropy"] = "mode=0770,uid=0,gid=0"
    with container as site:
        assert httpx.get(site.get_url() + "/index").status_code == 200
        assert site.exec(["id", "-u"]).output.decode().strip() == "12345"
        written = site.exec(["sh", "-c", "touch /opt/probe 2>&1 || true"]).output.decode()
        assert "Read-only file system" in written


def test_several_workers_run_gunicorn_with_uvicorn_workers(image):
    count = ("import glob, os; cmdlines = [open(p, 'rb').read() for p in glob.glob('/proc/[0-9]*/cmdline') "
             "if p != f'/proc/{os.getpid()}/cmdline']; "
             "print(sum(b'gunicorn' in c and b'prefix_output' not in c for c in cmdlines))")
    with GenropyAsgiContainer(image, env={"GENROPY_WORKERS": "2"}) as site:
        assert int(site.exec(["python", "-c", count]).output.decode()) == 3  # master + 2 workers
        page = GenropyPage(site.get_url())
        for title in ("one", "two", "three", "four"):  # each worker built its own site
            page.rpc("add_note", title=title)
        assert all(t in page.rpc("note_titles") for t in ("one", "two", "three", "four"))
        # the real-time channel through whichever worker takes each connection
        for attempt in range(4):
            with GenropyPage(site.get_url()).channel() as channel:
                GenropyPage(site.get_url()).rpc("add_note", title=f"pushed {attempt}")
                assert f"<title>pushed {attempt}</title>" in channel.next_publish_text("demo_note_saved")


def test_statics_come_precompressed_from_the_image(image):
    """The build's .br/.gz siblings of GenroPy's trees are what a browser gets (no on-the-fly work)."""
    import brotli

    with GenropyAsgiContainer(image) as site:
        url = site.get_url()
        shell = httpx.get(url + "/index").text
        dojo = next(part for part in shell.split('"') if part.endswith("/dojo/dojo.js"))
        sibling = site.exec(["python", "-c", "import gnr, os, sys; root = os.path.dirname(gnr.__file__); "
                             f"p = os.path.join(root, 'dojo_libs', 'dojo_11', {dojo.split('/_dojo/11/')[1]!r}); "
                             "sys.stdout.write(str(os.path.getsize(p + '.br')))"])
        assert sibling.exit_code == 0, sibling.output
        with httpx.stream("GET", url + dojo, headers={"Accept-Encoding": "br"}) as answer:
            raw = b"".join(answer.iter_raw())  # as sent (httpx would decode .content)
        assert answer.headers["content-encoding"] == "br"
        assert len(raw) == int(sibling.output)  # the precompressed file, byte for byte
        plain = httpx.get(url + dojo, headers={"Accept-Encoding": "identity"}).content
        assert brotli.decompress(raw) == plain
        assert "immutable" in httpx.get(url + next(p for p in shell.split('"') if "?mtime=" in p)).headers[
            "cache-control"]
