"""What native static serving (genropy_asgi.asgi.static_files) relies on in GenroPy is still there:
its dispatcher sends the storage types to ``storageDispatcher``, which resolves with
``storageNodeFromPathList`` and serves local files with paste's FileApp (ETag "mtime-size",
the site's cache_max_age). This fails the day GenroPy changes that path: then compare the
two modes again (tests/site/test_static_files.py) before trusting GENROPY_STATIC=native."""

from __future__ import annotations

import inspect


def test_the_dispatcher_still_routes_statics_through_storage():
    from gnr.web.gnrwsgisite import GnrWsgiSite

    dispatcher = inspect.getsource(GnrWsgiSite._dispatcher)
    assert "self.lookup_webtools_static_route(request.path)" in dispatcher
    assert "storageType = self.storageType(path_list)" in dispatcher
    assert "return self.storageDispatcher(path_list, environ, start_response," in dispatcher
    storage = inspect.getsource(GnrWsgiSite.storageDispatcher)
    assert "storageNode = self.storageNodeFromPathList(path_list, storageType)" in storage
    assert "'_lazydoc' in kwargs" in storage  # a missing file may be built: we leave those to GenroPy
    for name in ("storageType", "storageNodeFromPathList", "get_path_list", "lookup_webtools_static_route"):
        assert callable(getattr(GnrWsgiSite, name)), name


def test_local_files_are_served_with_the_etag_and_max_age_we_repeat():
    from gnr.lib.services.storage import BaseLocalService

    serve = inspect.getsource(BaseLocalService.serve)
    assert 'my_none_match = "%s-%s"%(str(mytime),str(size))' in serve
    assert "fileapp.FileApp(fullpath, **file_args)" in serve
    assert "file_responder.cache_control(max_age=self.parent.cache_max_age)" in serve
    from paste.fileapp import DataApp

    assert """'"%s-%s"' % (self.last_modified, self.content_length)""" in inspect.getsource(DataApp.calculate_etag)
