"""A Markdown report pasted into a ticket: whatever the captured handshake holds, it shows as
text; it adds no link, image or HTML of its own."""

from __future__ import annotations

import json
import re

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.helpers import run_cli
from wsinspect.sessions import save
from wsinspect.text import printable

LINKS = "[x](http://evil.example/a) ![i](http://evil.example/i.png) <http://evil.example/auto>"
HTML = "<img src=http://evil.example/x.png> <b onclick=x>bold</b>"
BARE = "http://evil.example/bare www.evil.example evil@evil.example"
BREAKOUT = "`` ` `code` ``` [y](http://evil.example/y)"
BODY = f"{BREAKOUT}\n# heading\n- item\n<div>block</div>\n| a | b |\n{BARE}"
ORIGIN = f"http://localhost:3000/{LINKS} {HTML}"
PATH = "/ws/`](http://evil.example/p)/[z](http://evil.example/z)/<b>x</b>/![p](http://e.example/p)"
# Links of our own: the rule page of each finding.
RULE_PAGE = re.compile(r"docs/rules/[a-z0-9-]+\.md")


def tokens(markdown: str) -> list[Token]:
    """Every token, nested ones included, as a GitHub-like renderer (tables, bare links) sees."""

    def walk(items: list[Token]):
        for token in items:
            yield token
            yield from walk(token.children or [])

    return list(walk(MarkdownIt("gfm-like").parse(markdown)))


@pytest.fixture
async def hostile_session(capture, tmp_path):
    """A real refusal whose Origin and body are made to break out, saved as captured; its URL
    set as a HAR or hand-made file can have it (no client sends such a path)."""

    def refuse(connection, request):
        return connection.respond(403, BODY)

    async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0, process_request=refuse) as s:
        port = s.sockets[0].getsockname()[1]
        with pytest.raises(InvalidStatus):
            async with connect(
                f"ws://127.0.0.1:{port}/ws", proxy=capture.url, origin=Origin(ORIGIN)
            ):
                pass
    await capture.one()
    path = tmp_path / "hostile.json"
    save(capture.session, path, redact=False)
    document = json.loads(path.read_text())
    document["handshakes"][0]["url"] = f"ws://127.0.0.1:{port}{PATH}"
    path.write_text(json.dumps(document))
    return path, f"ws://127.0.0.1:{port}{PATH}"


async def test_captured_text_adds_no_link_image_or_html(hostile_session, tmp_path):
    path, url = hostile_session
    report = tmp_path / "report.md"
    code, _, err = await run_cli("export", str(path), "-o", str(report))
    assert code == 0, err
    _, printed, _ = await run_cli("diagnose", str(path), "--format", "markdown")
    for markdown in (report.read_text(), printed):
        found = tokens(markdown)
        assert not [t for t in found if t.type in ("image", "html_inline", "html_block")]
        links = [t.attrGet("href") for t in found if t.type == "link_open"]
        assert links and all(RULE_PAGE.fullmatch(str(href)) for href in links), links

        # Still readable: each value shows exactly as captured.
        code_spans = [t.content for t in found if t.type == "code_inline"]
        assert printable(url) in code_spans  # in the table and the heading
        text = " ".join(t.content for t in found if t.type in ("text", "code_inline"))
        for piece in (LINKS, HTML, BARE, BREAKOUT, "| a | b |"):
            assert piece in text, piece


def test_no_fence_in_a_fix_can_be_closed_early():
    from wsinspect.report import md_fenced

    block = "\n".join(md_fenced("a\n````\n[x](http://evil.example)\n```\nb", "js\n<img>"))
    found = tokens(block)
    assert [t.type for t in found] == ["fence"]
    assert found[0].info == "jsimg"
    assert found[0].content == "a\n````\n[x](http://evil.example)\n```\nb\n"


@pytest.mark.parametrize(
    "prose",
    [
        *("1. a list", "12) another", "- an item", "+ one more", "# a heading", "> a quote"),
        *("=== underline", "--- rule", "    indented code", "<div>block</div>"),
        "a *b* _c_ ~~d~~ $e$ &amp; \\",
    ],
)
def test_prose_quoting_captured_text_stays_one_paragraph(prose):
    """Even right after a line of ours, where "===" would make it a heading, "-" a list."""
    from wsinspect.report import md_text

    found = tokens(f"What happened:\n{md_text(prose)}\n")
    assert [t.type for t in found if t.nesting == 1] == ["paragraph_open"]
    text = "".join(t.content for t in found if t.type == "text")
    assert text == "What happened:" + prose.strip()
