"""The search's matching logic (assets/js/search-core.js), tested by Node's own test runner in
tests/js/ against the real search data of the built site: fast, and without a browser."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import ROOT


def test_search_core_passes_its_node_tests(built_site):
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node not found; CI needs Node.js (it runs npm ci too)")
        pytest.skip("node not found")
    result = subprocess.run([node, "--test", str(ROOT / "tests" / "js")], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "SEARCH_ASSETS": str(built_site / "assets")})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout and "# pass" in result.stdout, result.stdout[-2000:]
