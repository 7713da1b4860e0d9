#!/usr/bin/env python
# encoding: utf-8
"""The depot package: products, their suppliers and a table never exposed."""
from gnr.app.gnrdbo import GnrDboPackage, GnrDboTable


class Package(GnrDboPackage):
    def config_attributes(self):
        return dict(comment='genropy-asgi data bridge test project', sqlschema='depot', sqlprefix=True,
                    name_short='Depot', name_long='Depot', name_full='Depot', openapi=True)

    def config_db(self, pkg):
        pass


class Table(GnrDboTable):
    pass
