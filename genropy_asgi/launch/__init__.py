"""From a GenroPy instance to a running site, in-process.

- ``gnrconfig``: the GenroPy config folder (``environment.xml``, the deployment's
  database override), rendered purely and written atomically;
- ``site``: GenroPy's own start steps (instance, site, gnrdaemon address and wait),
  outside ``gnr.web.serverwsgi.Server``'s command line;
- ``app_factory``: the ASGI application ``uvicorn``/``gunicorn`` import
  (``genropy_asgi.launch.app_factory:app``), built from the environment;
- ``daemon``: where the site finds its gnrdaemon, and the ping that proves it answers;
- ``cli``: ``gnrasgiserve``, the drop-in for ``gnrwsgiserve``.

``LaunchError`` is what they all raise for a problem the user must fix.
"""


class LaunchError(Exception):
    """A launch problem the user must fix: its message is the one line to print."""
