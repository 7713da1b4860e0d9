"""The pytest plugin's genropy_env lines."""

import pytest

from genropy_asgi.testing.pytest_plugin import container_env


def test_env_lines():
    assert container_env(["GNR_DB_NAME=x", " PIP_NO_INDEX = 1 ", "EMPTY="]) == {
        "GNR_DB_NAME": "x", "PIP_NO_INDEX": "1", "EMPTY": ""}
    with pytest.raises(pytest.UsageError, match="expected NAME=value"):
        container_env(["no equals sign"])
