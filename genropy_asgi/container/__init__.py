"""The image's programs, each run as ``python -m genropy_asgi.container.NAME``.

- ``plan``: pure decisions, environment + mounted files -> ``LaunchPlan`` (no effects);
- ``entrypoint``: the thin shell that carries a plan out (config, database wait and
  setup, first-use records, then ``exec`` of supervisord or a single program);
- ``first_use``, ``project_requirements``: GenroPy's first-use records; a project's
  Python requirements;
- supervision helpers: ``prefix_output`` (each line named by its program),
  ``wait_for_daemon``, ``crash_listener`` (a crash loop stops the container),
  ``healthcheck`` (the image's HEALTHCHECK).
"""
