"""``from genropy_asgi.genropy_proxy import GenropyProxy``: the design document's import path.

The class lives with the rest of the ASGI runtime in ``genropy_asgi.asgi.genropy_proxy``;
this module keeps the documented path working.
"""

from genropy_asgi.asgi.genropy_proxy import GenropyProxy

__all__ = ["GenropyProxy"]
