"""gunicorn for the genropy-asgi image (GENROPY_WORKERS > 1): uvicorn workers that share
the load fairly (genropy_asgi.asgi.gunicorn_worker).

Each worker builds the GenroPy site itself, after the fork (``preload_app`` stays
False): GenroPy's site opens a gnrdaemon connection, and workers sharing one from
the master fail with Pyro "reply sequence out of sync" errors (measured with
GenroPy's own ``serveprod``).
"""

import os

from genropy_asgi import settings

bind = settings.read(os.environ, "GENROPY_BIND")
workers = settings.read(os.environ, "GENROPY_WORKERS")
worker_class = "genropy_asgi.asgi.gunicorn_worker.GenropyUvicornWorker"
preload_app = False
graceful_timeout = int(settings.read(os.environ, "GENROPY_SHUTDOWN_TIMEOUT"))
timeout = 120
accesslog = "-"
errorlog = "-"
