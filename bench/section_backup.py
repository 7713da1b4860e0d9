"""Section ``backup``: the image's ``backup`` and ``restore`` modes on PostgreSQL, for the demo and
for a site with 100 MB of uploads: time, archive size, and the pages' latency while a backup runs
against the same without one (the same clients, back to back, one run)."""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid

UPLOADS_MB = 100


class BackupRig:
    """A site on PostgreSQL with its site-data and backups volumes, and one-off containers of the image."""

    def __init__(self, client, image: str, postgres_image: str) -> None:
        from genropy_asgi.testing.containers import GenropyAsgiContainer

        self.client, self.image = client, image
        tag = uuid.uuid4().hex[:8]
        self.volumes = {f"bench-sitedata-{tag}": "/srv/site-data", f"bench-backups-{tag}": "/backups"}
        for name in self.volumes:
            client.volumes.create(name)
            client.containers.run(image, entrypoint=["chown", "10001:0", "/v"], user="0", remove=True,
                                  volumes={name: {"bind": "/v", "mode": "rw"}})
        site = GenropyAsgiContainer(image, env={"GENROPY_SITE_DATA": "/srv/site-data",
                                                "GENROPY_BACKUP_DESTINATION": "/backups", "GENROPY_BACKUP_KEEP": "2"})
        for name, path in self.volumes.items():
            site.with_volume_mapping(name, path, "rw")
        self.site = site.with_postgres(image=postgres_image).start()

    def one_off(self, *args: str) -> tuple[float, str]:
        env = {k: v for k, v in self.site.env.items() if not k.endswith("_FILE")}
        env["GNR_DB_PASSWORD"] = self.site.secret_values["GNR_DB_PASSWORD"]
        started = time.monotonic()
        container = self.client.containers.create(self.image, command=list(args), environment=env,
                                                  network=self.site.network.name,
                                                  volumes={n: {"bind": p, "mode": "rw"} for n, p in self.volumes.items()})
        try:
            container.start()
            status = container.wait(timeout=900)["StatusCode"]
            output = container.logs().decode(errors="replace")
        finally:
            container.remove(force=True)
        if status != 0:
            raise RuntimeError(f"{' '.join(args)}: exit {status}\n{output[-2000:]}")
        return time.monotonic() - started, output

    def archive_size(self) -> int:
        output = self.site.exec_in_site("ls -l /backups/*.tar.gz | tail -1").output.split()
        return int(output[4])

    def remove(self) -> None:
        try:
            self.site.stop()
        finally:
            for name in self.volumes:
                self.client.volumes.get(name).remove(force=True)


def latencies(site, seconds: float, during=None) -> dict[str, float]:
    """4 clients calling the demo's cheapest RPC for ``seconds``; ``during`` runs meanwhile, repeatedly."""
    from genropy_asgi.testing.load import SteadyLoad

    stop = threading.Event()
    runs = [0]

    def repeat() -> None:
        while not stop.is_set():
            during()
            runs[0] += 1

    worker = threading.Thread(target=repeat) if during else None
    with SteadyLoad(site.get_url(), clients=4, rpc="note_count") as load:
        start = time.monotonic()
        if worker:
            worker.start()
        time.sleep(seconds)
        stop.set()
        end = time.monotonic()
    if worker:
        worker.join()
    answers = [a for a in load.snapshot() if start <= a.sent <= end]
    times = sorted((a.answered - a.sent) * 1000 for a in answers if a.ok)
    return {"p50": statistics.median(times), "p99": times[min(len(times) - 1, int(len(times) * 0.99))],
            "rps": len(times) / (end - start), "failed": len(answers) - len(times), "backups": runs[0]}


def section_backup(bench) -> None:
    import docker

    from genropy_asgi.testing.client import GenropyPage

    client = docker.from_env()
    image = os.environ.get("GENROPY_ASGI_IMAGE", "genropy-asgi:latest")
    postgres_image = os.environ.get("GENROPY_ASGI_POSTGRES_IMAGE", "genropy-asgi/postgres:17-trixie")
    rig = BackupRig(client, image, postgres_image)
    rows = []
    try:
        page = GenropyPage(rig.site.get_url())
        for n in range(20):
            page.rpc("add_note", title=f"bench note {n}")
        extra = 10 if bench.smoke else UPLOADS_MB
        sizes = [("demo", 0), (f"demo + {extra} MB of uploads", extra)]
        for label, megabytes in sizes:
            if megabytes:  # half incompressible (photos, PDFs), half text
                folder = "/srv/site-data/instances/demo/site/uploads/bench"
                rig.site.exec_in_site(
                    f"mkdir -p {folder} && cd {folder} && "
                    f"head -c {megabytes // 2}M /dev/urandom > random.bin && "
                    f"yes 'GenroPy record line, repeated text compresses' | head -c {megabytes // 2}M > text.txt")
            seconds, _ = rig.one_off("backup")
            size = rig.archive_size()
            restored, _ = rig.one_off("restore", "latest", "--replace")
            rows.append([label, f"{seconds:.1f} s", f"{size / 1e6:.1f} MB", f"{restored:.1f} s"])
        bench.table("Backup and restore (PostgreSQL, image modes, one-off containers)",
                    ["site", "backup (docker run -> exit)", "archive", "restore --replace (incl. gnr db setup)"], rows,
                    "Each one-off container's own start (~0.5 s) is included; the restore ends with `gnr db setup` "
                    "(~3 s) because a restored database gets set up again.")
        window = 4 if bench.smoke else 20
        quiet = latencies(rig.site, window)
        busy = latencies(rig.site, window, during=lambda: rig.one_off("backup"))
        bench.table("Page latency while a backup runs (4 clients, the demo's note_count RPC, same run)",
                    ["", "p50 ms", "p99 ms", "req/s", "failed", "backups in the window"],
                    [["no backup", f"{quiet['p50']:.0f}", f"{quiet['p99']:.0f}", f"{quiet['rps']:.0f}",
                      quiet["failed"], 0],
                     [f"backups back to back ({sizes[-1][0]})", f"{busy['p50']:.0f}", f"{busy['p99']:.0f}",
                      f"{busy['rps']:.0f}", busy["failed"], busy["backups"]]],
                    f"{window} s windows; the machine's 2 cores are shared by the site, PostgreSQL and the backup.")
    finally:
        rig.remove()
