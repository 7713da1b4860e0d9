#!/usr/bin/env python
# encoding: utf-8
"""The ledger package: a table of entries and a page (genropy_asgi.testing's own tests)."""
from gnr.app.gnrdbo import GnrDboPackage, GnrDboTable


class Package(GnrDboPackage):
    def config_attributes(self):
        return dict(comment='genropy-asgi testing-module project', sqlschema='ledger', sqlprefix=True,
                    name_short='Ledger', name_long='Ledger', name_full='Ledger')

    def config_db(self, pkg):
        pass


class Table(GnrDboTable):
    pass
