"""The stack registry is consistent: every record is complete, names what exists, and fills only
values the wire gives. Adding a stack is adding one module; these checks say what it must hold."""

from __future__ import annotations

import ast
import pkgutil
import re
from pathlib import Path

import pytest

from wsinspect.diagnose import stacks
from wsinspect.diagnose.fixes import PLACEHOLDERS, placeholders
from wsinspect.diagnose.neutral import NEUTRAL
from wsinspect.diagnose.rules import CODES
from wsinspect.diagnose.stacks import REGISTRY, NoFix, Snippet, StackRecord, by_name, slug

ROOT = Path(__file__).resolve().parent.parent
RECORDS = {record.name: record for record in REGISTRY}
names = pytest.mark.parametrize("name", sorted(RECORDS))


def test_every_module_is_one_stack_named_after_its_slug():
    modules = sorted(m.name for m in pkgutil.iter_modules(stacks.__path__) if m.name[0] != "_")
    assert [slug(record.name) for record in REGISTRY] == modules
    assert len(RECORDS) == len(REGISTRY), "two records share a name"
    assert all(by_name(name) is record for name, record in RECORDS.items())


@names
def test_record_is_complete(name: str):
    record = RECORDS[name]
    assert isinstance(record, StackRecord)
    assert record.kind in ("server", "proxy")
    assert re.fullmatch(r"https://[^\s]+", record.docs), record.docs
    assert record.language
    assert record.signals, "a stack nobody can recognise"
    for signal in (*record.signals, *record.site_signals):
        assert signal.evidence.strip()
        assert 0 < signal.weight < 1


@names
def test_fixes_are_for_real_codes_and_every_code_it_produces_has_one(name: str):
    record = RECORDS[name]
    assert set(record.fixes) <= set(CODES)
    assert record.codes() <= set(CODES)
    unanswered = record.codes() - set(record.fixes)
    assert not unanswered, f"{name}: give a Snippet or a NoFix for {sorted(unanswered)}"
    for remedy in record.fixes.values():
        assert isinstance(remedy, Snippet | NoFix)
        if isinstance(remedy, NoFix):
            assert remedy.reason.strip()


@names
def test_snippets_use_only_values_seen_on_the_wire(name: str):
    for code, remedy in RECORDS[name].fixes.items():
        if isinstance(remedy, Snippet):
            used = set(placeholders(remedy.template)) | set(placeholders(remedy.knob))
            assert used <= PLACEHOLDERS, f"{name} {code}: unknown {used - PLACEHOLDERS}"
            assert remedy.knob and "\n" not in remedy.knob, f"{name} {code}: knob is one line"
            assert "{{" not in re.sub(r"\{\{\w+\}\}", "", remedy.template + remedy.knob)


def test_every_code_has_a_neutral_fix():
    """What an unknown stack gets first, in words: every finding code needs one."""
    assert set(NEUTRAL) == set(CODES)
    for code, snippet in NEUTRAL.items():
        assert set(placeholders(snippet.template)) <= PLACEHOLDERS, code


def _strings(nodes: list[ast.expr]) -> set[str]:
    return {n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _named_in_code(path: Path) -> set[str]:
    """Stack names a module uses: ``x.name == "…"``, ``fix.stack == "…"``, ``by_name("…")``,
    and the tests' ``fix_for(handshake, code, "…")`` and ``snippet(finding, "…")``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare) and getattr(node.left, "attr", "") in ("name", "stack"):
            found |= _strings(node.comparators)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "by_name":
                found |= _strings(node.args)
            elif node.func.id in ("fix_for", "snippet") and node.args:
                found |= _strings(node.args[-1:])
    return found


def test_every_stack_named_in_rules_tests_and_docs_exists():
    places = [ROOT / "wsinspect/diagnose/rules.py", *ROOT.glob("tests/test_diagnose*.py")]
    named = set().union(*(_named_in_code(place) for place in places)) - {"unknown"}
    for page in (ROOT / "docs/rules").glob("*.md"):
        section = page.read_text().partition("<!-- fixes:start -->")[2]
        named |= set(re.findall(r"^### (.+)$", section, re.MULTILINE)) - {"Any stack"}
    assert named, "nothing found: the scan is broken"
    assert named <= set(RECORDS), sorted(named - set(RECORDS))
