"""API classes named by the config.yaml of tests/site/test_config_mode.py.

Handlers reach their database through ``request.db`` (the app's ``db_name`` resolved
in the server's db_registry): ``_request`` is genro-asgi's injected request.
"""

from __future__ import annotations

from genro_routes import RoutingClass, route


class NotesApi(RoutingClass):
    openapi_info = {"title": "Notes", "version": "1"}

    @route()
    def count(self, _request=None) -> dict:
        return {"count": _request.db.table("demo.note").query().count()}

    @route()
    def add(self, title: str = "", _request=None) -> dict:
        db = _request.db
        table = db.table("demo.note")
        record = table.newrecord(title=title)
        table.insert(record)
        db.commit()
        return {"id": record["id"]}

    @route()
    def dbname(self, _request=None) -> dict:
        return {"dbname": _request.db.dbname}
