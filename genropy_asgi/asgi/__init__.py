"""The ASGI runtime: one port for the GenroPy site and the ASGI-native apps.

- ``server``: ``GenropyAsgiServer`` (genro-asgi's ``AsgiServer`` plus ``mount``/``run``,
  config.yaml, ``db_registry``), the ``/_server`` endpoints of ``meta``;
- ``gateway``: ``WsgiGatewayMiddleware`` (mounted app -> ASGI, else the site);
- ``wsgi_bridge``: the one a2wsgi bridge on a bounded thread pool;
- ``genropy_proxy``: ``GenropyProxy``, a GenroPy site on a prefix;
- ``websocket_relay``: ``/websocket`` relayed to ``gnr web async``;
- ``request_guard``, ``http_protocol``: what is refused before routing, and the
  strict, deadline-bound HTTP parser under it;
- ``config_file``: config.yaml; ``gunicorn_worker``: the worker class for several processes.
"""
