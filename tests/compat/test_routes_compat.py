"""The genro-routes compat hook: present in every process, and still needed."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap

import pytest

from genropy_asgi.compat import routes as routes_compat

CHILD = textwrap.dedent("""
    import sys
    from gnr.web.gnrwsgisite_proxy import gnrapidispatcher as m
    from genro_routes import RoutingClass, route
    class Hello(RoutingClass):
        @route()
        def hello(self, name='world'):
            return 'hello ' + name
    print(getattr(m, 'GENROPY_ASGI_COMPAT', 'untouched'), m.HAS_GENRO_ROUTES)
    if m.HAS_GENRO_ROUTES:
        owner = m._ApiRouterOwner()
        owner.api.add_branches({'name': 'demo', 'instance': Hello()})
        print(owner.api.node('demo/hello')(name='gnr'))
""")


def run_child(env_extra=None) -> list[str]:
    env = {**os.environ, **(env_extra or {})}
    result = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.split("\n")


def test_the_conflict_is_still_there():
    """Fails the day GenroPy or genro-routes changes: then drop or revisit routes_compat."""
    import gnr.web.gnrwsgisite_proxy.gnrapidispatcher as dispatcher
    from genro_routes import Router

    source = inspect.getsource(dispatcher)
    assert "Router(self, name='api', branch=True)" in source, (
        "GenroPy no longer calls Router(name=, branch=): genropy_asgi/compat/routes.py may be dropped")
    assert routes_compat.router_rejects_name(Router), (
        "genro-routes accepts name= again: genropy_asgi/compat/routes.py may be dropped")


def test_every_new_interpreter_gets_the_adapter():
    """The .pth installs the hook in any python of the venv: gnr CLI, daemon children..."""
    lines = run_child()
    assert lines[0] == "adapter True"
    assert lines[1] == "hello gnr"  # GenroPy's /_api router works on genro-routes 0.30


def test_switch_off_disables_the_dispatcher_instead():
    lines = run_child({"GENROPY_ASGI_GNR_API": "off"})
    assert lines[0] == "off False"


def test_a_gnrwsgisite_builds_in_this_venv(tmp_path):
    """Without the hook this raises TypeError (measured); GnrWsgiSite needs the real dispatcher."""
    from gnr.web.gnrwsgisite_proxy.gnrapidispatcher import ApiDispatcher

    class FakeSiteForDispatcherOnly:
        pass

    dispatcher = ApiDispatcher(FakeSiteForDispatcherOnly())
    assert dispatcher.available


@pytest.mark.parametrize("value,expected", [("", "adapter"), ("OFF", "off"), ("bogus", "adapter")])
def test_requested_mode(value, expected):
    assert routes_compat.requested_mode({"GENROPY_ASGI_GNR_API": value}) == expected


def test_the_start_hook_imports_no_fix_until_genropy_loads():
    """The .pth hook runs in every interpreter of the venv: it loads no fixing module, no urllib, no typing."""
    import subprocess
    import sys

    code = ("import sys; import genropy_asgi.compat as c; c.install(); "
            "print(sorted(m for m in sys.modules if m.startswith(('genropy_asgi', 'urllib.request', 'typing'))))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(__import__("pathlib").Path(__file__).resolve().parents[2])})
    assert out.stdout.strip() == "['genropy_asgi', 'genropy_asgi.compat']"


def test_a_fix_that_cannot_load_leaves_the_module_as_genropy_wrote_it(capsys):
    import types

    from genropy_asgi import compat as gnr_compat

    module = types.ModuleType("gnr.some.module")
    assert gnr_compat.lazy("genropy_asgi.no_such_fix:patch")(module) is None
    assert capsys.readouterr().err.startswith("genropy-asgi: warning: gnr.some.module loaded unpatched: "
                                              "genropy_asgi.no_such_fix:patch failed to load (ModuleNotFoundError")
