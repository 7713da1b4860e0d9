"""Testing helpers for GenroPy sites served by genropy-asgi.

- ``genropy_asgi.testing.containers``: the site in the image (testcontainers), with
  PostgreSQL on a private network;
- ``genropy_asgi.testing.pytest_plugin``: the pytest fixtures on top of it;
- ``genropy_asgi.testing.client``: a GenroPy client (a page, its RPCs, its websocket);
- ``genropy_asgi.testing.local``: real processes on this host (gnrdaemon, servers);
- ``genropy_asgi.testing.topology``: the single or the scaled topology with plain ``docker run``.
"""
