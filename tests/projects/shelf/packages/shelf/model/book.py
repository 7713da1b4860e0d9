# encoding: utf-8
"""shelf.book: a title and a page count."""


class Table(object):
    def config_db(self, pkg):
        tbl = pkg.table('book', pkey='id', name_long='Book', name_plural='Books', caption_field='title')
        self.sysFields(tbl)
        tbl.column('title', size=':120', name_long='Title')
        tbl.column('pages', dtype='L', name_long='Pages')
