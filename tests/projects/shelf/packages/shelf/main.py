#!/usr/bin/env python
# encoding: utf-8
"""The shelf package: a table of books and a page; needs `humanize` (requirements.txt)."""
from gnr.app.gnrdbo import GnrDboPackage, GnrDboTable


class Package(GnrDboPackage):
    def config_attributes(self):
        return dict(comment='genropy-asgi test project', sqlschema='shelf', sqlprefix=True,
                    name_short='Shelf', name_long='Shelf', name_full='Shelf')

    def config_db(self, pkg):
        pass


class Table(GnrDboTable):
    pass
