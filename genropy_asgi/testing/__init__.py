"""Testing helpers for GenroPy sites served by genropy-asgi.

- ``genropy_asgi.testing.local``: real processes on this host (gnrdaemon, servers).
"""
