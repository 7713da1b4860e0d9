"""The depot's records for the data bridge's tests and benchmark (GenroPy's own table API).

    python seed.py INSTANCE [BULK]     # BULK extra products (default 40); prints {"token": ...}

A supplier, three products of every kind of value, BULK plain products, a never-exposed note,
four per-user table configurations (carol: column `code` of product and the key `id` of memo
forbidden; dave: table `product` hidden; erin: memo's `amount` read-only), a protected memo (`keep me`), three GenroPy accounts (`buyer`: a user named like a tag;
`gina`: banned; `hugo`: a second factor) and a GenroPy API token without tags, printed on the last line.
"""

import json, sys
from gnr.app.gnrapp import GnrApp
from gnr.core.gnrbag import Bag
app = GnrApp(sys.argv[1])
db = app.db
acme = db.table('depot.supplier').insert(dict(name='Acme', city='Rome'))
db.table('depot.product').insert(dict(code='P1', description='Blue 100% cotton', price='10.50', quantity=3,
    available=True, added='2026-01-02', cost='4.00', margin_note='thin', supplier_id=acme['id']))
db.table('depot.product').insert(dict(code='P2', description='Red_wool', price='25.00', quantity=0,
    available=False, added='2026-02-03', cost='9.00', margin_note='fat', supplier_id=acme['id']))
db.table('depot.product').insert(dict(code='P3', description='Green', price=None, quantity=7,
    available=True, added=None, cost='1.00'))
for n in range(int(sys.argv[2]) if len(sys.argv) > 2 else 40):
    db.table('depot.product').insert(dict(code='Q%02d' % n, description='bulk %d' % n, price='1.00', quantity=n))
db.table('depot.stock_note').insert(dict(text='never exposed'))
forbid = Bag(); forbid.setItem('cols_permission.code', None, forbidden=True)
db.table('adm.user_config').insert(dict(ruleid='carol-code', username='carol', tblid='depot.product',
    data=forbid.toXml()))
forbid_key = Bag(); forbid_key.setItem('cols_permission.id', None, forbidden=True)
db.table('adm.user_config').insert(dict(ruleid='carol-memo-id', username='carol', tblid='depot.memo',
    data=forbid_key.toXml()))
hide = Bag(); hide['tbl_permission'] = 'hidden'
db.table('adm.user_config').insert(dict(ruleid='dave-product', username='dave', tblid='depot.product',
    data=hide.toXml()))
erin_amount = Bag(); erin_amount.setItem('cols_permission.amount', None, readonly=True)
db.table('adm.user_config').insert(dict(ruleid='erin-amount', username='erin', tblid='depot.memo',
    data=erin_amount.toXml()))
db.table('depot.memo').insert(dict(title='keep me', amount='1.00'))
users = db.table('adm.user')  # GenroPy's own accounts (py_auth): its trigger hashes md5pwd
users.insert(dict(username='buyer', md5pwd='Buyer-pw-7', status='conf', firstname='A', lastname='Buyer'))
users.insert(dict(username='gina', md5pwd='Gina-pw-8', status='bann', firstname='G', lastname='Banned'))
users.insert(dict(username='hugo', md5pwd='Hugo-pw-9', status='conf', avatar_secret_2fa='JBSWY3DPEHPK3PXP',
                  firstname='H', lastname='Twofactor'))
tokens = db.table('adm.api_token')
record = tokens.newrecord(description='ci token')
tokens.insert(record)
value = tokens.activate_api_token(record['id'])
db.commit()
print(json.dumps({'token': value}))
