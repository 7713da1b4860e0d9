"""gunicorn for the genropy-asgi image (GENROPY_WORKERS > 1): uvicorn workers that share
the load fairly (genropy_asgi.asgi.gunicorn_worker).

Each worker builds the GenroPy site itself, after the fork (``preload_app`` stays
False): GenroPy's site opens a gnrdaemon connection, and workers sharing one from
the master fail with Pyro "reply sequence out of sync" errors (measured with
GenroPy's own ``serveprod``).
"""

import os

from genropy_asgi import settings
from genropy_asgi.cpu_quota import available_workers, server_workers
from genropy_asgi.logs import JSON, log_format

bind = settings.read(os.environ, "GENROPY_BIND")
workers = server_workers(settings.read(os.environ, "GENROPY_WORKERS"), settings.read(os.environ, "GENROPY_REGISTER"),
                         available_workers())
worker_class = "genropy_asgi.asgi.gunicorn_worker.GenropyUvicornWorker"
preload_app = False
graceful_timeout = int(settings.read(os.environ, "GENROPY_SHUTDOWN_TIMEOUT"))
# a worker replaced after this many requests (+ up to the jitter), as GenroPy's deployments do
max_requests = settings.read(os.environ, "GENROPY_MAX_REQUESTS")
max_requests_jitter = settings.read(os.environ, "GENROPY_MAX_REQUESTS_JITTER")
if max_requests_jitter is None:
    max_requests_jitter = max_requests // 6
timeout = 120
accesslog = None  # each worker writes its own access lines, with the request id (genropy_asgi.asgi.observe)
errorlog = "-"
if log_format() == JSON:  # gunicorn's own lines as JSON records too (GENROPY_LOG_FORMAT)
    logconfig_dict = {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"json": {"()": "genropy_asgi.logs.JsonFormatter"}},
        # gunicorn merges this with its defaults, whose root logger uses "console": define both
        "handlers": {name: {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
                     for name in ("console", "error_console")},
        "loggers": {"gunicorn.error": {"handlers": ["error_console"], "level": "INFO", "propagate": False}},
    }
