from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def cli() -> str:
    """The CLI under test, as the package finds it (make check-bindings sets PG_UNIT_TESTS_CLI)."""
    from pg_unit_tests import _cli

    return _cli.find()
