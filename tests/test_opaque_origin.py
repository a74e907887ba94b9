"""A refused `Origin: null` (a file:// page, a sandboxed iframe) is never fixed by allowing
`null`: any sandboxed page on any site sends it. Real servers' answers, replayed through our real
proxy (tests/stack_wire.py)."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests import stack_wire as wire
from tests.stack_wire import Case

# Real refusals of `Origin: null`, from servers that check the Origin themselves.
REFUSED_NULL = [("coder-websocket", "origin_no_host"), ("tomcat", "origin_null")]
ALLOWS_NULL = re.compile(r"""["'`]null["'`]""")  # null as a value in a snippet or in words


@pytest.fixture(scope="module")
def outcomes() -> dict[str, wire.Outcome]:
    cases = [Case(s, n, wire.requests_for(s)[n]) for s, n in REFUSED_NULL]
    return asyncio.run(wire.replay_all(cases))


@pytest.mark.parametrize(("stack", "name"), REFUSED_NULL)
def test_a_refused_null_origin_is_explained_and_never_allow_listed(
    outcomes: dict[str, wire.Outcome], stack: str, name: str
):
    diagnosis = outcomes[f"{stack}/{name}"].diagnosis
    assert diagnosis is not None
    finding = diagnosis.findings[0]
    assert finding.code == "origin-rejected"
    own, opaque = finding.fixes[0], finding.fixes[1]  # the stack's own fix, and why not null
    assert own.stack == diagnosis.stack.name
    assert "no origin of its own" in opaque.snippet and "file://" in opaque.snippet
    assert "Never allow `null`" in opaque.snippet
    for fix in finding.fixes:  # the fixes show a stand-in, never the value sent
        if fix is not opaque:
            assert not ALLOWS_NULL.search(fix.snippet), (fix.stack, fix.snippet)
    assert "your-app.example" in own.snippet
