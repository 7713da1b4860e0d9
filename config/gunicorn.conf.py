"""gunicorn for the genropy-asgi image (GENROPY_WORKERS > 1): uvicorn workers that share
the load fairly (genropy_asgi.gunicorn_worker).

Each worker builds the GenroPy site itself, after the fork (``preload_app`` stays
False): GenroPy's site opens a gnrdaemon connection, and workers sharing one from
the master fail with Pyro "reply sequence out of sync" errors (measured with
GenroPy's own ``serveprod``).
"""

import os

bind = os.environ.get("GENROPY_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("GENROPY_WORKERS", "2"))
worker_class = "genropy_asgi.gunicorn_worker.GenropyUvicornWorker"
preload_app = False
graceful_timeout = int(float(os.environ.get("GENROPY_ASGI_SHUTDOWN_TIMEOUT", "30")))
timeout = 120
accesslog = "-"
errorlog = "-"
