#!/usr/bin/env python
from gnr.app.gnrdbo import GnrDboPackage, GnrDboTable


class Package(GnrDboPackage):
    def config_attributes(self):
        return dict(comment='example shop', sqlschema='shop', sqlprefix=True,
                    name_short='Shop', name_long='Shop', name_full='Shop')

    def config_db(self, pkg):
        pass


class Table(GnrDboTable):
    pass
