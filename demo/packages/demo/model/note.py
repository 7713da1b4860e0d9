# encoding: utf-8
"""demo.note: a title and a body; what the demo page lists and the tests write."""


class Table(object):
    def config_db(self, pkg):
        tbl = pkg.table('note', pkey='id', name_long='Note', name_plural='Notes',
                        caption_field='title')
        self.sysFields(tbl)
        tbl.column('title', size=':120', name_long='Title')
        tbl.column('body', name_long='Body')
