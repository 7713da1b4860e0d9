"""The pytest plugin's genropy_env lines."""

import pytest

from genropy_asgi.testing.pytest_plugin import container_env


def test_env_lines():
    assert container_env(["GNR_DB_NAME=x", " PIP_NO_INDEX = 1 ", "EMPTY="]) == {
        "GNR_DB_NAME": "x", "PIP_NO_INDEX": "1", "EMPTY": ""}
    with pytest.raises(pytest.UsageError, match="expected NAME=value"):
        container_env(["no equals sign"])


def test_a_user_run_prints_no_assert_rewrite_warning(tmp_path):
    """The .pth imports genropy_asgi before pytest starts; the plugin must not make every user
    run warn that it cannot be rewritten."""
    import subprocess
    import sys

    (tmp_path / "test_trivial.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "genropy_asgi.testing.pytest_plugin" in subprocess.run(
        [sys.executable, "-m", "pytest", "--trace-config", "-q", "-p", "no:cacheprovider", "--co", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120).stdout  # the plugin was loaded
    assert "PytestAssertRewriteWarning" not in run.stdout + run.stderr
