#!/usr/bin/env python
# encoding: utf-8
"""The demo package: one table (note), one page (index) and one scheduled task."""
from gnr.app.gnrdbo import GnrDboTable, GnrDboPackage


class Package(GnrDboPackage):
    def config_attributes(self):
        return dict(comment='genropy-asgi demo package', sqlschema='demo', sqlprefix=True,
                    name_short='Demo', name_long='Demo', name_full='Demo')

    def config_db(self, pkg):
        pass


class Table(GnrDboTable):
    pass
