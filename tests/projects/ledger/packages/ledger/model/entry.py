# encoding: utf-8
"""ledger.entry: a title and an amount."""


class Table(object):
    def config_db(self, pkg):
        tbl = pkg.table('entry', pkey='id', name_long='Entry', name_plural='Entries', caption_field='title')
        self.sysFields(tbl)
        tbl.column('title', size=':120', name_long='Title')
        tbl.column('amount', dtype='N', name_long='Amount')
