"""The data bridge: a GenroPy site's tables as a REST API with its OpenAPI document, and as MCP
tools, on the site's own port, under GenroPy's own rules of what a user may see.

- ``query_params``: a request's query string -> a checked ``QuerySpec`` (pure);
- ``exposure``: which packages, tables and columns a user sees (GenroPy's ``openapi`` flags,
  ``auth_tags``, the user's table and column configuration);
- ``identity``: who is asking (HTTP Basic against GenroPy's authentication, GenroPy's API tokens);
- ``records``: the reads, one GenroPy connection per request, closed on every path;
- ``openapi_document``: the OpenAPI 3.1 document of what one user sees;
- ``mcp_endpoint``: the same reads as MCP tools (Streamable HTTP, stateless, JSON answers);
- ``docs_pages``: Swagger UI and ReDoc, served from this package (no CDN);
- ``application``: the ASGI application mounted on ``GENROPY_DATA_API_MOUNT``.
"""
