# -*- coding: utf-8 -*-
"""The demo home page: public, lists the notes; RPCs note_count, add_note, whoami."""
from gnr.core.gnrdecorator import public_method


class GnrCustomWebPage(object):
    # GenroPy's own login component (adm): gives the page the login_doLogin RPC
    py_requires = 'login:LoginComponent'


    def main(self, root, **kwargs):
        root.h1('GenroPy demo on genropy-asgi', text_align='center')
        root.div('^.count', _class='note_count')
        root.dataRpc('.count', self.note_count, _onStart=True)

    @public_method
    def note_count(self, **kwargs):
        return self.db.table('demo.note').query().count()

    @public_method
    def add_note(self, title=None, body=None, **kwargs):
        tbl = self.db.table('demo.note')
        record = tbl.newrecord(title=title, body=body)
        tbl.insert(record)
        self.db.commit()
        return record['id']

    @public_method
    def note_titles(self, **kwargs):
        return [r['title'] for r in self.db.table('demo.note').query(
            columns='$title', order_by='$title').fetch()]

    @public_method
    def whoami(self, **kwargs):
        return self.user or ''
