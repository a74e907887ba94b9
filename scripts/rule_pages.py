"""Fill the "How to fix it" section of docs/rules/<code>.md from the fix templates.

The prose of each page is written by hand; the per-stack fixes come from
the stack registry (wsinspect/diagnose/stacks/) and
wsinspect/diagnose/neutral.py, filled with example values, so pages and fixes never drift apart.
Run after changing a fix: python scripts/rule_pages.py (tests check the pages are current).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from wsinspect.diagnose.facts import facts_of
from wsinspect.diagnose.fixes import NEUTRAL_NAME, every_fix
from wsinspect.model import Handshake, Headers, Request, Response

PAGES = Path(__file__).resolve().parent.parent / "docs" / "rules"
SECTION = re.compile(r"<!-- fixes:start -->.*<!-- fixes:end -->", re.DOTALL)
EXAMPLE = Handshake(
    id="example",
    started=0.0,
    url="ws://127.0.0.1:8080/ws",
    request=Request(
        headers=Headers(
            [
                ("Host", "127.0.0.1:8080"),
                ("Origin", "http://localhost:5173"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("Sec-WebSocket-Protocol", "graphql-transport-ws"),
            ]
        )
    ),
    response=Response(403, headers=Headers([("Location", "wss://example.com/ws")])),
)


def fix_section(code: str) -> str:
    facts = facts_of(EXAMPLE)
    fixes = every_fix(code, facts, own=code == "cross-origin-accepted")
    lines = [
        "<!-- fixes:start -->",
        "Generated from `wsinspect/diagnose/stacks/` for a page on `http://localhost:5173` and a "
        "server at `127.0.0.1:8080`; wsinspect fills in the values it saw.",
    ]
    for fix in fixes:
        title = "Any stack" if fix.stack == NEUTRAL_NAME else fix.stack
        lines += ["", f"### {title}", "", f"```{fix.language}", fix.snippet, "```"]
    lines.append("<!-- fixes:end -->")
    return "\n".join(lines)


def render(page: Path) -> str:
    text = page.read_text()
    return SECTION.sub(lambda _: fix_section(page.stem), text)


def main() -> int:
    for page in sorted(PAGES.glob("*.md")):
        page.write_text(render(page))
    print(f"updated {len(list(PAGES.glob('*.md')))} rule pages in {PAGES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
