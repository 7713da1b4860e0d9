# -*- coding: utf-8 -*-
"""The shelf page: RPCs add_book, book_count, pages_in_words (humanize, from requirements.txt), whoami."""
import humanize

from gnr.core.gnrdecorator import public_method


class GnrCustomWebPage(object):
    py_requires = 'login:LoginComponent'  # GenroPy's own login (login_doLogin RPC)

    def main(self, root, **kwargs):
        root.h1('Shelf')

    @public_method
    def add_book(self, title=None, pages=None, **kwargs):
        tbl = self.db.table('shelf.book')
        record = tbl.newrecord(title=title, pages=int(pages or 0))
        tbl.insert(record)
        self.db.commit()
        return record['id']

    @public_method
    def book_count(self, **kwargs):
        return self.db.table('shelf.book').query().count()

    @public_method
    def pages_in_words(self, **kwargs):
        total = sum(r['pages'] or 0 for r in self.db.table('shelf.book').query(columns='$pages').fetch())
        return humanize.intcomma(total)

    @public_method
    def whoami(self, **kwargs):
        return self.user or ''

    @public_method
    def user_tags(self, **kwargs):
        return self.userTags or ''

    @public_method
    def database_in_use(self, **kwargs):
        return '%s %s' % (self.db.implementation, self.db.dbname)
