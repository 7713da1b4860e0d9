"""The GenroPy client's encoding of RPC arguments and decoding of GenroPy's envelopes
(GenroPy's own Bag and catalog: the same types a page gets from genro's JavaScript)."""

from __future__ import annotations

import datetime
import decimal

import httpx
import pytest

from genropy_asgi.testing.client import GenropyPage, GenropyRpcError, envelope, strip_html, typed


@pytest.mark.parametrize(("value", "sent"), [
    (3, "3::L"), (2.5, "2.5::R"), (True, "True::B"), (decimal.Decimal("1.50"), "1.50::N"),
    (datetime.date(2024, 1, 2), "2024-01-02::D"), (None, "::NN"), ("as is::L", "as is::L"),
])
def test_arguments_are_typed_as_genro_sends_them(value, sent):
    assert typed(value) == sent


def test_a_dict_goes_as_a_bag():
    sent = typed({"user": "ann", "n": 2})
    assert sent.endswith("::BAG") and "<user>ann</user>" in sent and '<n _T="L">2</n>' in sent


def test_envelope_values_are_decoded():
    answer = envelope('<?xml version="1.0"?><GenRoBag><result _T="L">3</result></GenRoBag>')
    assert answer["result"] == 3 and answer["error"] is None


def test_strip_html():
    assert strip_html("<div>boom</div> <br/> Check Exception Id: 1") == "boom Check Exception Id: 1"


def serve(answer: httpx.Response):
    transport = httpx.MockTransport(lambda request: answer if request.method == "POST" else
                                    httpx.Response(200, text="<script>page_id:'P1'</script>"))
    return GenropyPage("http://site", "/index", client=httpx.Client(base_url="http://site", transport=transport))


def test_an_error_envelope_raises_with_genropys_kind_and_message():
    page = serve(httpx.Response(200, text="<GenRoBag><error>gnrexception</error><result>Error code GNR-001 : "
                                          "no stock.</result></GenRoBag>"))
    with pytest.raises(GenropyRpcError) as caught:
        page.rpc("sell", item="x")
    assert caught.value.kind == "gnrexception" and caught.value.message == "Error code GNR-001 : no stock."
    assert str(caught.value) == "sell: gnrexception: Error code GNR-001 : no stock."


def test_an_http_error_raises_with_its_status():
    with pytest.raises(GenropyRpcError, match="sell: HTTP 413"):
        serve(httpx.Response(413, text="<h1>Request Entity Too Large</h1>")).rpc("sell")


def test_the_reuse_key_ignores_what_is_not_copied(tmp_path):
    """The project's hash (reuse key) covers exactly what is copied: not .git, venvs,
    compiled files or an instance's data."""
    from genropy_asgi.testing.containers import project_archive, tree_digest

    project = tmp_path / "shop"
    (project / "packages" / "shop").mkdir(parents=True)
    (project / "packages" / "shop" / "main.py").write_text("# shop\n")
    before = tree_digest(project)
    for noise in (".git/HEAD", ".venv/lib/x.py", "packages/shop/__pycache__/main.cpython-313.pyc",
                  "instances/shop/data/shop.db", "packages/shop/x.pyc"):
        (project / noise).parent.mkdir(parents=True, exist_ok=True)
        (project / noise).write_text("noise")
    assert tree_digest(project) == before
    assert b"noise" not in project_archive(project, "/srv/projects/shop")
    (project / "packages" / "shop" / "main.py").write_text("# changed\n")
    assert tree_digest(project) != before
