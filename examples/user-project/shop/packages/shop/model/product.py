

class Table:
    def config_db(self, pkg):
        tbl = pkg.table('product', pkey='id', name_long='Product', caption_field='name')
        self.sysFields(tbl)
        tbl.column('name', size=':80', name_long='Name')
        tbl.column('price', dtype='N', name_long='Price')
