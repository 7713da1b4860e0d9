"""Every example of ``docs/data-api.md`` runs against the data bridge's test site, as printed but
for where it points: the site's address and port, the user's password, the API token, the site's
name (``ADDRESSES``). A code block of a kind this test does not know fails it, so a new example
cannot go untested."""

from __future__ import annotations

import json
import re
import shlex
import subprocess

import httpx
from depot_site import PASSWORDS, SQLITE_ONLY, ChangeStream
from support import BIN, REPO, require, start_server

from genropy_asgi.asgi.config_file import parse_config
from genropy_asgi.testing.client import GenropyPage

DOC = REPO / "docs" / "data-api.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks() -> list[tuple[str, str]]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


def addresses(site) -> dict[str, str]:
    return {"https://mysite.example.com": site.base_url, "http://localhost:8080": site.base_url,
            "alice:PASSWORD": f"alice:{PASSWORDS['alice']}", '("alice", "PASSWORD")': f'("alice", "{PASSWORDS["alice"]}")',
            "YOUR-GENROPY-API-TOKEN": site.token}


def pointed(text: str, site) -> str:
    for printed, here in addresses(site).items():
        text = text.replace(printed, here)
    return text


def run_shell(line: str, site) -> None:
    command = line.split("  #")[0].strip()
    words = shlex.split(command)
    leading = 0
    while re.fullmatch(r"[A-Z_]+=\S*", words[leading]):
        leading += 1
    assignments, program = dict(word.split("=", 1) for word in words[:leading]), words[leading:]
    if program[0] == "gnrasgiserve":
        assert program == ["gnrasgiserve", "mysite"], program
        server = start_server(site.workspace, "gnrasgiserve", name="docs-example", env=assignments)
        try:
            answer = httpx.get(f"{server.base_url}/_data/tables", auth=("alice", PASSWORDS["alice"]), timeout=30)
            assert answer.status_code == 200, answer.text
            assert [table["name"] for table in answer.json()] == ["depot.memo", "depot.product"]
        finally:
            server.stop()
        return
    assert program[0] == "curl", command
    streaming = "-N" in program
    argv = [pointed(word, site) for word in program] + (["--max-time", "3"] if streaming else ["--fail"])
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if streaming:  # a stream does not end by itself: curl's own timeout (28) ends it
        assert result.returncode == 28 and "event: ready" in result.stdout, (command, result.stdout, result.stderr)
    else:
        assert result.returncode == 0, (command, result.stderr)
        assert json.loads(result.stdout)["rows"], command


def run_python(code: str, site) -> None:
    compile(code, str(DOC), "exec")  # a model fragment: valid Python, as written
    if "httpx" not in code:
        return
    streaming = "/changes" in code
    try:
        result = subprocess.run([str(BIN / "python"), "-c", pointed(code, site) + ("" if streaming else "\nprint(rows)")],
                                capture_output=True, text=True, timeout=4 if streaming else 60)
        output = result.stdout
        assert result.returncode == 0, result.stderr[-2000:]
    except subprocess.TimeoutExpired as stopped:
        assert streaming, code
        output = (stopped.stdout or b"").decode()
    assert ("depot.product" if streaming else "cotton") in output.lower(), output


def run_mcp_configuration(text: str, site) -> None:
    server = json.loads(pointed(text, site))["mcpServers"]["mysite"]
    assert server["type"] == "http"
    sdk_python = REPO / ".venv-clients" / "bin" / "python"
    require(sdk_python.exists(), ".venv-clients missing: scripts/venv makes it")
    result = subprocess.run([str(sdk_python), str(REPO / "tests" / "clients" / "mcp_sdk_client.py"), server["url"],
                             server["headers"]["Authorization"], "depot.product", "depot.supplier"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["rows"] == 3


@SQLITE_ONLY
def test_every_example_of_the_data_api_page_runs(depot):
    kinds = []
    for language, text in blocks():
        kinds.append(language)
        if language == "sh":
            for line in text.strip().splitlines():
                run_shell(line, depot)
        elif language == "python":
            run_python(text, depot)
        elif language == "json":
            run_mcp_configuration(text, depot)
        elif language == "yaml":  # served end to end by tests/site/test_config_mode.py
            config = parse_config(text)
            assert [(app.name, app.kind, app.db_name) for app in config.apps] == [("data", "genropy-data", "main")]
            assert config.databases == {"main": "myinstance"}
        elif language == "text":  # the stream's wire, as a client sees it
            stream = ChangeStream(depot.base_url, "depot.product", "alice")
            try:
                assert stream.next() == {"retry": "2000", "event": "ready", "data": {"table": "depot.product"}}
                GenropyPage(depot.base_url, "/index").rpc("set_quantity", code="P3", quantity=7)
                change = stream.next(timeout=5)
                printed = [line.split(": ", 1)[0] for line in text.strip().splitlines()[4:] if line]
                assert sorted(change) == sorted(printed), (change, printed)
                assert set(change["data"]) == {"table", "pkey", "record"}
            finally:
                stream.close()
        else:
            raise AssertionError(f"{DOC.name}: a ```{language} block this test does not run: {text[:80]!r}")
    assert sorted(set(kinds)) == ["json", "python", "sh", "text", "yaml"], kinds
