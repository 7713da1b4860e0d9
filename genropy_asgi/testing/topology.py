"""A GenroPy site's topologies with plain ``docker run`` (the image's contract, no chart).

``Topology(client, image, postgres_image).scaled(n)``: PostgreSQL, one shared gnrdaemon
(mode ``daemon``), one shared ``gnr web async`` (mode ``async``) and ``n`` web containers
(mode ``serve`` with ``GNR_DAEMON_HOST``), on one network; ``.scaled(n, register="redis")``:
the register in a Valkey container instead of gnrdaemon (``valkey_image``, default
``GENROPY_ASGI_VALKEY_IMAGE`` or ``valkey/valkey:8``), no gnrdaemon; ``cpus``: each web
container limited to that fraction of a CPU; ``.single(workers)``: one
container running the whole process set. Returns the web containers' base URLs;
everything it starts is removed by ``close()``. The benchmark's ``scaled`` section and the
image's scale-out tests use it; so can a project's own tests."""

from __future__ import annotations

import os
import secrets
import time

import httpx

PG_USER = "genropy"
ADMIN_USER = "admin"
SITE_DATA = "/var/lib/genropy-site"  # GENROPY_SITE_DATA in the scaled containers


VALKEY_IMAGE = "valkey/valkey:8"
BOOTSTRAPPED_VALKEY_IMAGE = "genropy-asgi/valkey:8-trixie"  # scripts/bootstrap-images, machines with no registry


def local_valkey_image(client) -> str:
    """The official image when this engine has it; else the bootstrapped stand-in when that one is here."""
    from genropy_asgi.testing.containers import local_image

    return local_image(client, VALKEY_IMAGE, BOOTSTRAPPED_VALKEY_IMAGE)


class Topology:
    def __init__(self, client, image: str, postgres_image: str, valkey_image: str | None = None) -> None:
        self.client, self.image = client, image
        self.valkey_image = valkey_image or os.environ.get("GENROPY_ASGI_VALKEY_IMAGE") or local_valkey_image(client)
        self.suffix = f"{os.getpid()}-{secrets.token_hex(2)}"
        self.network = client.networks.create(f"topology-{self.suffix}")
        self.containers: list = []
        self.volumes: list = []
        self.key = secrets.token_hex(24)
        self.admin_password = secrets.token_urlsafe(12)  # the login GNR_ADMIN_USER (admin) gets
        password = secrets.token_urlsafe(16)
        try:
            pg = self.run("postgres", postgres_image, {"POSTGRES_USER": PG_USER, "POSTGRES_PASSWORD": password})
            for _ in range(240):
                if pg.exec_run(["pg_isready", "-h", "127.0.0.1"]).exit_code == 0:
                    break
                time.sleep(0.5)
        except BaseException:
            self.close()
            raise
        self.database = {"GNR_DB_IMPLEMENTATION": "postgres", "GNR_DB_HOST": pg.name, "GNR_DB_USER": PG_USER,
                         "GNR_DB_PASSWORD": password, "GNR_ADMIN_PASSWORD": self.admin_password}

    def run(self, role: str, image: str, environment: dict, command=None, publish: bool = False,
            cpus: float | None = None):
        container = self.client.containers.run(
            image, command=command, detach=True, name=f"topology-{role}-{self.suffix}", network=self.network.name,
            environment=environment, ports={"8080/tcp": ("127.0.0.1", None)} if publish else None,
            volumes=getattr(self, "site_data", None), nano_cpus=int(cpus * 1e9) if cpus else None,
            restart_policy={"Name": "on-failure", "MaximumRetryCount": 10})
        self.containers.append(container)
        return container

    def single(self, workers: int) -> list[str]:
        site = self.run("single", self.image, {**self.database, "GENROPY_WORKERS": str(workers)}, publish=True)
        return [self.ready(site)]

    def shared_volume(self):
        """One volume for every container's site data, group 0 and group-writable (what a
        pod's ``fsGroup: 0`` does to a claim): the image's user (uid 10001, gid 0) writes it."""
        volume = self.client.volumes.create(f"topology-site-data-{self.suffix}")
        self.volumes.append(volume)
        self.client.containers.run(self.image, entrypoint=["sh", "-c", "chgrp 0 /data && chmod 2775 /data"],
                                   user="0", volumes={volume.name: {"bind": "/data", "mode": "rw"}}, remove=True)
        return volume

    def scaled(self, web_pods: int, register: str = "pyro", cpus: float | None = None) -> list[str]:
        self.site_data = {self.shared_volume().name: {"bind": SITE_DATA, "mode": "rw"}}
        shared = {**self.database, "GNR_DAEMON_HMAC_KEY": self.key, "GENROPY_SITE_DATA": SITE_DATA}
        if register == "redis":
            clients = {**shared, **self.valkey()}
        else:
            daemon = self.run("gnrdaemon", self.image, {**shared, "GNR_DAEMON_BIND": "0.0.0.0"}, ["daemon"])
            clients = {**shared, "GNR_DAEMON_HOST": daemon.name}
        async_server = self.run("async", self.image, clients, ["async"])
        web = {**clients, "GENROPY_ASYNC_ADDRESS": f"{async_server.name}:9999"}
        self.web_env = web
        pods = [self.run(f"web-{i}", self.image, web, publish=True, cpus=cpus) for i in range(web_pods)]
        return [self.ready(pod) for pod in pods]

    def valkey(self) -> dict[str, str]:
        """The register's Valkey (its password in a file it writes at start, never an argument);
        the settings that lead GenroPy's processes to it."""
        password = secrets.token_urlsafe(16)
        valkey = self.client.containers.run(
            self.valkey_image, entrypoint=["sh", "-c"], detach=True, name=f"topology-valkey-{self.suffix}",
            command=['printf "requirepass %s\\nappendonly yes\\ndir /data\\nprotected-mode no\\n" '
                     '"$VALKEY_PASSWORD" > /tmp/valkey.conf && exec valkey-server /tmp/valkey.conf'],
            environment={"VALKEY_PASSWORD": password}, network=self.network.name)
        self.containers.append(valkey)
        for _ in range(120):
            if valkey.exec_run(["valkey-cli", "ping"], environment={"REDISCLI_AUTH": password}).output.strip() \
                    == b"PONG":
                break
            time.sleep(0.25)
        return {"GENROPY_REGISTER": "redis", "GENROPY_REDIS_URL": f"redis://{valkey.name}:6379/0",
                "GENROPY_REDIS_PASSWORD": password}

    def url(self, container) -> str:
        container.reload()
        return f"http://127.0.0.1:{container.attrs['NetworkSettings']['Ports']['8080/tcp'][0]['HostPort']}"

    def ready(self, container, seconds: float = 300) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                url = self.url(container)
                if httpx.get(url + "/_server/ready", timeout=5).status_code == 200:
                    return url
            except (httpx.HTTPError, KeyError, TypeError, IndexError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{container.name} not ready after {seconds:g} s:\n"
                           + container.logs().decode(errors="replace")[-3000:])

    def named(self, role: str):
        return next(c for c in self.containers if c.name == f"topology-{role}-{self.suffix}")

    def close(self) -> None:
        from genropy_asgi.testing.containers import remove_all

        remove_all(self.containers, self.network, tuple(self.volumes))
