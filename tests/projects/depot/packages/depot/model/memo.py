# encoding: utf-8
"""depot.memo: open for writes to editors (openapi write); `stamp` read-only by its flag and
written by a trigger; a memo titled `keep...` is protected from deletion."""


class Table(object):
    def config_db(self, pkg):
        tbl = pkg.table('memo', pkey='id', name_long='Memo', name_plural='Memos', caption_field='title',
                        openapi=dict(write=True, write_tags='editor'))
        self.sysFields(tbl)
        tbl.column('title', size=':80', name_long='Title')
        tbl.column('amount', dtype='N', size='12,2', name_long='Amount')
        tbl.column('done', dtype='B', name_long='Done')
        tbl.column('due', dtype='D', name_long='Due')
        tbl.column('stamp', size=':80', name_long='Stamp', openapi='R')

    def trigger_onInserting(self, record):
        record['stamp'] = 'by %s' % (self.db.currentEnv.get('user') or '?')

    def protect_delete(self, record):
        if (record.get('title') or '').startswith('keep'):
            raise self.exception('protect_delete', record=record, msg='memos titled keep... stay')
