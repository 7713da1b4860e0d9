# -*- coding: utf-8 -*-
"""The ledger page: RPCs for the testing module's tests (see the project's README)."""
from gnr.core.gnrbag import Bag
from gnr.core.gnrdecorator import public_method
from gnr.core.gnrlang import GnrException

ANNOUNCE_TOPIC = 'ledger_announce'


class GnrCustomWebPage(object):
    py_requires = 'login:LoginComponent'

    def main(self, root, **kwargs):
        root.h1('Ledger', id='ledger_title')

    @public_method
    def add_entry(self, title=None, amount=None, **kwargs):
        tbl = self.db.table('ledger.entry')
        record = tbl.newrecord(title=title, amount=amount)
        tbl.insert(record)
        self.db.commit()
        return record['id']

    @public_method
    def entry_count(self, **kwargs):
        return self.db.table('ledger.entry').query().count()

    @public_method
    def entry_titles(self, **kwargs):
        return [r['title'] for r in self.db.table('ledger.entry').query(columns='$title', order_by='$title').fetch()]

    @public_method
    def echo(self, **kwargs):
        return Bag(kwargs)

    @public_method
    def whoami(self, **kwargs):
        return self.user or ''

    @public_method
    def fail(self, message=None, **kwargs):
        raise GnrException(message)

    @public_method
    def announce(self, text=None, **kwargs):
        self.site.wsk.publishToClient('*', topic=ANNOUNCE_TOPIC, data=Bag(dict(text=text)))
