"""The tests run the programs of the environment they run in, not whatever PATH finds first."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import require_program


def test_mitmdump_is_the_one_beside_the_interpreter(monkeypatch: pytest.MonkeyPatch):
    """With a PATH that leads elsewhere (or nowhere), the venv's own mitmdump is used."""
    beside = Path(sys.executable).parent / "mitmdump"
    if not beside.exists():
        pytest.skip("mitmproxy's scripts are not installed beside this interpreter")
    monkeypatch.setenv("PATH", "")
    try:
        found = require_program("mitmdump", "pip install mitmproxy")
    except pytest.skip.Exception:
        found = None
    assert found == str(beside)
