"""Every finding code has its rule page, and the pages' fix sections match the fix data."""

from __future__ import annotations

from scripts.rule_pages import PAGES, render
from wsinspect.diagnose.rules import CODES


def test_every_code_has_a_page():
    pages = {page.stem for page in PAGES.glob("*.md")}
    assert pages == set(CODES)


def test_pages_are_current():
    stale = [page.name for page in PAGES.glob("*.md") if render(page) != page.read_text()]
    assert not stale, f"run python scripts/rule_pages.py: {stale}"
