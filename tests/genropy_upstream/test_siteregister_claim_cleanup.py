"""GenroPy's own tests of its site register, run against each of our backends.

Copied verbatim from genropy/genropy at bdf50770a5a55cf8c356100c9b56c4de0eaa5950
(``gnrpy/tests/web/gnrwsgisite_folder_cleanup_test.py``: the fakes of the register's server
and the four ``claim_cleanup`` tests), whose ``gnr/web/daemon/siteregister.py`` is identical
to the pinned GenroPy 26.10.26's. GenroPy is under the GNU LGPL 2.1 (LICENSE-GENROPY here).

Only how the register is constructed changes: ``SiteRegister`` below is replaced, per backend,
by ``conftest.py`` (GenroPy's class for gnrdaemon and ``local``; our Redis-backed one for
``redis``). Why the other register tests of GenroPy's history do not apply: README.md here.
"""

import time

from gnr.web.daemon.siteregister import SiteRegister


# ---------------------------------------------------------------------------
# Fakes
# ---------------------------------------------------------------------------


class _FakeDaemon:
    def register(self, obj, name):
        # SiteRegister.__init__ calls
        # self.server.daemon.register(self.remotebag_handler, 'RemoteData')
        # We swallow it: no Pyro4 daemon needed for these tests.
        pass


class _FakeServer:
    daemon = _FakeDaemon()


# ---------------------------------------------------------------------------
# claim_cleanup (siteregister.py)
# ---------------------------------------------------------------------------


def test_claim_cleanup_first_call_succeeds():
    reg = SiteRegister(_FakeServer(), sitename='test')
    # last_cleanup is initialized to 0 in __init__
    assert reg.claim_cleanup(60) is True


def test_claim_cleanup_subsequent_call_within_gap_fails():
    reg = SiteRegister(_FakeServer(), sitename='test')
    assert reg.claim_cleanup(60) is True
    # immediate second call is within the gap
    assert reg.claim_cleanup(60) is False


def test_claim_cleanup_advances_last_cleanup():
    reg = SiteRegister(_FakeServer(), sitename='test')
    before = time.time()
    assert reg.claim_cleanup(60) is True
    assert reg.last_cleanup >= before


def test_claim_cleanup_succeeds_again_after_gap_elapses():
    reg = SiteRegister(_FakeServer(), sitename='test')
    assert reg.claim_cleanup(60) is True
    # Force the field back to "long ago" to simulate the gap elapsing.
    reg.last_cleanup = 0
    assert reg.claim_cleanup(60) is True
