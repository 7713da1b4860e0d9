# The WSGI entry of the demo instance (GenroPy's own layout; gnrwsgiserve and
# gnrasgiserve require this file to exist, they build the site themselves).
import sys
sys.stdout = sys.stderr
from gnr.web.gnrwsgisite import GnrWsgiSite
site = GnrWsgiSite(__file__)


def application(environ, start_response):
    return site(environ, start_response)
