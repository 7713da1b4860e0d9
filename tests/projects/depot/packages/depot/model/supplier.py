# encoding: utf-8
"""depot.supplier: exposed to buyers only (auth_tags)."""


class Table(object):
    def config_db(self, pkg):
        tbl = pkg.table('supplier', pkey='id', name_long='Supplier', name_plural='Suppliers',
                        caption_field='name', openapi=True, auth_tags='buyer')
        self.sysFields(tbl)
        tbl.column('name', size=':80', name_long='Name')
        tbl.column('city', size=':80', name_long='City')
