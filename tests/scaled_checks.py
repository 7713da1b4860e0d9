"""What a scaled-out site must do, checked the same way on the chart's rendered workloads
(tests/chart/test_rendered_scaled.py) and on plain ``docker run`` (tests/container/test_scaled_contract.py)."""

from __future__ import annotations

import httpx

from genropy_asgi.testing.client import GenropyPage

PROOF = b"shared-by-every-pod"


def logged_in_page(base_url: str, password: str, user: str = "admin") -> GenropyPage:
    page = GenropyPage(base_url)
    page.rpc("login_doLogin", login=f"<GenRoBag><user>{user}</user><password>{password}</password></GenRoBag>::BAG",
             rootenv="<GenRoBag></GenRoBag>::BAG")
    assert page.rpc("whoami") == user
    return page


def through(page: GenropyPage, base_url: str) -> GenropyPage:
    """The same page (page_id, cookies) reached through another pod."""
    moved = object.__new__(GenropyPage)
    moved.__dict__.update(page.__dict__)
    moved.client = httpx.Client(base_url=base_url, timeout=60, cookies=page.client.cookies)
    return moved


def upload_proof(page: GenropyPage) -> str:
    """A file uploaded with GenroPy's own upload RPC into the instance's site folder; its URL path."""
    uploaded = page.client.post("/index", data={"method": "rpc.upload_file", "page_id": page.page_id,
                                                "uploadPath": "site:uploads", "filename": "proof.txt"},
                                files={"file_handle": ("proof.txt", PROOF)})
    file_url = httpx.URL(uploaded.text.split("<result>")[1].split("</result>")[0]).path
    assert file_url == "/_storage/site/uploads/proof.txt", uploaded.text[-500:]
    return file_url


def served(base_url: str, file_url: str) -> bool:
    return httpx.get(base_url + file_url).content == PROOF


def assert_live_update_across(watch_url: str, save_url: str) -> None:
    """A page open through one pod gets the live update of a note saved through another."""
    watcher = GenropyPage(watch_url)
    with watcher.channel() as channel:
        GenropyPage(save_url).rpc("add_note", title="pushed across pods")
        assert "<title>pushed across pods</title>" in channel.next_publish_text("demo_note_saved")
