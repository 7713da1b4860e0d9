# encoding: utf-8
"""depot.product: exposed; `cost` hidden by its flag, `margin_note` for managers only."""


class Table(object):
    def config_db(self, pkg):
        tbl = pkg.table('product', pkey='id', name_long='Product', name_plural='Products',
                        caption_field='description', openapi=True)
        self.sysFields(tbl)
        tbl.column('code', size=':12', name_long='Code')
        tbl.column('description', size=':120', name_long='Description')
        tbl.column('price', dtype='N', size='12,2', name_long='Price')
        tbl.column('quantity', dtype='L', name_long='Quantity')
        tbl.column('available', dtype='B', name_long='Available')
        tbl.column('added', dtype='D', name_long='Added on')
        tbl.column('cost', dtype='N', size='12,2', name_long='Cost', openapi=False)
        tbl.column('margin_note', name_long='Margin note', auth_tags='manager')
        tbl.column('supplier_id', size='22', name_long='Supplier').relation(
            'depot.supplier.id', relation_name='products', mode='foreignkey', onDelete='raise')
        tbl.aliasColumn('supplier_name', '@supplier_id.name', name_long='Supplier name')
        tbl.formulaColumn('double_quantity', '$quantity * 2', dtype='L', name_long='Twice the quantity')
        tbl.formulaColumn('margin', '$price - $cost', dtype='N', name_long='Margin')  # reads hidden cost
        tbl.formulaColumn('note_count', "(SELECT COUNT(*) FROM depot.depot_stock_note)", dtype='L')
