# -*- coding: utf-8 -*-
"""The depot's one page: its RPC `products` reads what the data bridge reads (bench section data_api),
`set_quantity` and `add_memo` commit changes as any GenroPy page does (the change stream's tests)."""
from gnr.core.gnrdecorator import public_method


class GnrCustomWebPage(object):
    def main(self, root, **kwargs):
        root.div('depot')

    @public_method
    def products(self, limit=100, **kwargs):
        """The same records as the data bridge's list (the benchmark's RPC contender)."""
        return self.db.table('depot.product').query(
            columns='$code,$description,$price,$quantity,$available,$added', order_by='$code',
            limit=int(limit)).selection().output('dictlist')

    @public_method
    def set_quantity(self, code=None, quantity=None, **kwargs):
        """A change committed through a GenroPy page (the change stream's test)."""
        table = self.db.table('depot.product')
        with table.recordToUpdate(code=code) as record:
            record['quantity'] = int(quantity)
        self.db.commit()
        return code

    @public_method
    def add_memo(self, title=None, **kwargs):
        """A record inserted through a GenroPy page (the image's change-stream test)."""
        record = self.db.table('depot.memo').insert(dict(title=title))
        self.db.commit()
        return record['id']
