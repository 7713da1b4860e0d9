from gnr.core.gnrdecorator import public_method


class GnrCustomWebPage:
    py_requires = 'login:LoginComponent'  # GenroPy's own login (what GenropyClient.login calls)

    def main(self, root, **kwargs):
        root.h1('The shop', id='shop_title')

    @public_method
    def add_product(self, name=None, price=None, **kwargs):
        tbl = self.db.table('shop.product')
        tbl.insert(tbl.newrecord(name=name, price=price))
        self.db.commit()
        return tbl.query().count()

    @public_method
    def product_names(self, **kwargs):
        return [r['name'] for r in self.db.table('shop.product').query(columns='$name', order_by='$name').fetch()]

    @public_method
    def whoami(self, **kwargs):
        return self.user or ''
