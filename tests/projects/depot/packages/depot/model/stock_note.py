# encoding: utf-8
"""depot.stock_note: no openapi flag -- never exposed."""


class Table(object):
    def config_db(self, pkg):
        tbl = pkg.table('stock_note', pkey='id', name_long='Stock note')
        self.sysFields(tbl)
        tbl.column('text', name_long='Text')
