"""genropy_asgi.testing's failure modes, as a user meets them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from genropy_asgi.testing.containers import GenropyAsgiContainer, GenropyImageMissing, GenropySiteDidNotStart


def test_missing_image_says_what_to_build():
    with pytest.raises(GenropyImageMissing) as caught:
        GenropyAsgiContainer("genropy-asgi:no-such-tag").start()
    message = str(caught.value)
    assert "image 'genropy-asgi:no-such-tag' is not available locally and could not be pulled" in message
    assert "docker build -t genropy-asgi:no-such-tag ." in message and "GENROPY_ASGI_IMAGE" in message


def test_missing_postgres_image_says_what_to_set(image):
    with pytest.raises(GenropyImageMissing, match="GENROPY_ASGI_POSTGRES_IMAGE"):
        GenropyAsgiContainer(image).with_postgres(image="postgres:no-such-tag").start()


def test_a_site_that_does_not_start_brings_its_logs(image):
    with pytest.raises(GenropySiteDidNotStart) as caught:
        GenropyAsgiContainer(image, env={"GNR_CURRENT_SITE": "nosuchsite"}, ready_timeout=60).start()
    message = str(caught.value)
    assert "the container exited (2)" in message
    assert "--- last log lines ---" in message
    assert "GNR_CURRENT_SITE='nosuchsite': no instance of that name" in message


def test_a_crashing_test_leaves_nothing_behind(image, postgres_image, tmp_path):
    """A user's test that raises, with PostgreSQL and a network: all removed afterwards
    (the autouse fixture of this folder compares containers, networks and volumes)."""
    (tmp_path / "pytest.ini").write_text("[pytest]\ngenropy_database = postgres\n")
    (tmp_path / "test_crash.py").write_text(textwrap.dedent("""
        def test_crashes(genropy_client):
            assert genropy_client.get("/index").status_code == 200
            raise RuntimeError("the user's test crashed")
    """))
    env = {**os.environ, "GENROPY_ASGI_IMAGE": image, "GENROPY_ASGI_POSTGRES_IMAGE": postgres_image}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout[-3000:]
    assert "the user's test crashed" in result.stdout
