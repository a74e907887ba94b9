"""Fixes filled with what was seen: the recognised stack's own first, then the neutral one.

The snippets live in the stack registry (stacks/<slug>.py) and the stack-neutral ones in
neutral.py; here they are chosen and filled. Placeholders in ``{{…}}`` take the values seen on
the wire (see ``values``). Every origin fix names the safe choice first, an explicit list, and
warns where a wildcard or a skipped check would let any site in (cross-site WebSocket
hijacking). None of them suggests CORS headers: those play no part in a WebSocket handshake.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from wsinspect.diagnose.facts import Facts, expected_accept
from wsinspect.diagnose.neutral import NEUTRAL, OPAQUE_ORIGIN
from wsinspect.diagnose.stacks import (
    REGISTRY,
    NoFix,
    Recognition,
    Snippet,
    StackRecord,
    by_name,
)
from wsinspect.model import Fix

NEUTRAL_NAME = "any stack"  # Fix.stack of a stack-neutral fix
# What origin snippets show for an opaque Origin (`null`, file://): never the value sent, which any
# sandboxed page on any site sends too; the page must be served from a real origin first.
STAND_IN = "https://your-app.example"
TABLE_NAME = "popular stacks"  # Fix.stack of the table of knobs an unknown stack gets


def values(facts: Facts) -> dict[str, str]:
    """The observed values a template may use."""
    handshake = facts.handshake
    host = facts.host or (facts.target.authority if facts.target else "")
    scheme = "https" if handshake.url.startswith("wss:") else "http"
    key = facts.request.get("Sec-WebSocket-Key") or ""
    opaque = facts.origin is not None and facts.origin_endpoint is None
    return {
        "origin": STAND_IN if opaque else facts.origin or f"{scheme}://{host}",
        "origin_host": urlsplit(STAND_IN).netloc if opaque else facts.origin_host or host,
        "origin_hostname": facts.origin_endpoint.host if facts.origin_endpoint else host,
        "sent_origin": facts.origin or "",
        "own_origin": f"{scheme}://{host}",
        "host": host,
        "path": facts.path,
        "url_without_query": handshake.url.split("?", 1)[0],
        "protocol": facts.offered[0] if facts.offered else "",
        "offered": ", ".join(facts.offered) or "none",
        "selected": facts.selected or "",
        "status": str(facts.status) if facts.status is not None else "no answer",
        "location": facts.response.get("Location") or "(no Location header)",
        "expected_accept": expected_accept(key) if key else "",
    }


# Every name ``values`` fills: templates may use these and no other.
PLACEHOLDERS = frozenset(
    {
        "origin",
        "origin_host",
        "origin_hostname",
        "sent_origin",
        "own_origin",
        "host",
        "path",
        "url_without_query",
        "protocol",
        "offered",
        "selected",
        "status",
        "location",
        "expected_accept",
    }
)
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


# Codes only the server's own setting fixes: a recognised proxy's fix for them (a proxy that
# rewrites Host breaks same-host Origin checks) never leads, it follows the server's.
SERVERS_OWN = frozenset({"origin-rejected", "cross-origin-accepted", "subprotocol-not-selected"})
TABLE_WIDTH = 28  # the table's name column; a longer name pushes its knob along


def fixes_for(code: str, recognition: Recognition, facts: Facts, *, own: bool = False) -> list[Fix]:
    """Fixes for ``code``, the one to apply at the top: a recognised stack's own snippet, else
    the neutral fix in words and a table of each popular stack's knob (never another stack's
    snippet as *the* fix). Close candidates' snippets follow. ``own``: fill origin lists with the
    server's own origin instead of the seen one (cross-origin-accepted must not allow-list the
    foreign site it warns about)."""
    filled = _filled_values(facts, own)
    opaque = []  # first, or next to a recognised stack's own fix (which shows a stand-in)
    if code == "origin-rejected" and facts.origin is not None and facts.origin_endpoint is None:
        opaque = [_filled_snippet(NEUTRAL_NAME, OPAQUE_ORIGIN, filled)]
    recognised = recognition.recognised()
    leading = [r for r in recognised if _leads(r, code)]
    if leading:
        first = [_stack_fix(r, code, filled) for r in leading]
    else:
        first = _neutral(code, filled)
        first += _reasons(recognised, code)
        first += _table(code, recognition, filled)
    also = [*recognised, *_records(c.name for c in recognition.closest())]
    also = [r for r in dict.fromkeys(also) if r not in leading and r.snippet(code) is not None]
    last = _neutral(code, filled) if leading else []
    first = [*first[:1], *opaque, *first[1:]] if leading else [*opaque, *first]
    return [*first, *(_stack_fix(r, code, filled) for r in also), *last]


def every_fix(code: str, facts: Facts, *, own: bool = False) -> list[Fix]:
    """Every stack's fix for ``code``, then the neutral one: the rule pages show them all."""
    filled = _filled_values(facts, own)
    stacks = [_stack_fix(r, code, filled) for r in REGISTRY if r.snippet(code) is not None]
    return stacks + _neutral(code, filled)


def _filled_values(facts: Facts, own: bool) -> dict[str, str]:
    filled = values(facts)
    if own:
        filled["origin"] = filled["own_origin"]
        filled["origin_host"] = filled["host"]
    return filled


def _leads(record: StackRecord, code: str) -> bool:
    """A recognised stack's snippet is the fix to apply first, unless only the server's setting
    fixes ``code`` and the record is a proxy."""
    return record.snippet(code) is not None and (record.kind == "server" or code not in SERVERS_OWN)


def _reasons(records: list[StackRecord], code: str) -> list[Fix]:
    """What recognised stacks without a setting for ``code`` say instead (their NoFix)."""
    reasons = [(r.name, r.fixes.get(code)) for r in records]
    return [_fix(name, "text", why.reason, ()) for name, why in reasons if isinstance(why, NoFix)]


def _stack_fix(record: StackRecord, code: str, filled: dict[str, str]) -> Fix:
    snippet = record.fixes[code]
    assert isinstance(snippet, Snippet)
    return _filled_snippet(record.name, snippet, filled)


def _records(names: Iterable[str]) -> list[StackRecord]:
    return [record for name in names if (record := by_name(name)) is not None]


def _neutral(code: str, filled: dict[str, str]) -> list[Fix]:
    neutral = NEUTRAL.get(code)
    return [] if neutral is None else [_filled_snippet(NEUTRAL_NAME, neutral, filled)]


def _table(code: str, recognition: Recognition, filled: dict[str, str]) -> list[Fix]:
    """One line per popular stack: its knob for ``code`` with the values filled in, the likely
    stacks first. One Fix, so that it never reads as the fix of one of them."""
    template = _table_template(code, tuple(c.name for c in recognition.ranked))
    if not template:
        return []
    return [_filled_snippet(TABLE_NAME, Snippet("text", template), filled)]


@functools.lru_cache(maxsize=256)
def _table_template(code: str, likely: tuple[str, ...]) -> str:
    rows = [
        (record.name, snippet.knob)
        for record in sorted(REGISTRY, key=lambda r: _rank(r.name, likely))
        if record.popular and (snippet := record.snippet(code)) is not None and snippet.knob
    ]
    width = min(TABLE_WIDTH, max((len(name) for name, _ in rows), default=0))
    return "\n".join(f"{name:<{width}}  {knob}" for name, knob in rows)


def _rank(name: str, likely: tuple[str, ...]) -> int:
    return likely.index(name) if name in likely else len(likely)


def _filled_snippet(stack: str, snippet: Snippet, filled: dict[str, str]) -> Fix:
    used = tuple(filled.get(name) for name in placeholders(snippet.template))
    return _fix(stack, snippet.language, snippet.template, used)


@functools.cache
def placeholders(template: str) -> tuple[str, ...]:
    return tuple(_PLACEHOLDER.findall(template))


@functools.lru_cache(maxsize=4096)
def _fix(stack: str, language: str, snippet: str, used: tuple[str | None, ...]) -> Fix:
    """One Fix per template and values it uses, shared by every handshake that needs it: a
    session of 200,000 refused attempts would otherwise hold 200,000 copies of a dozen snippets
    (~7 KB each attempt). Nothing changes a Fix once made; redaction copies what it changes."""
    filled = iter(used)

    def fill(match: re.Match[str]) -> str:
        value = next(filled)
        return match.group(0) if value is None else value

    text = _PLACEHOLDER.sub(fill, snippet)
    return Fix(stack=stack, language=language, snippet=text)


def popular(code: str) -> list[str]:
    """When no stack is recognised: every stack with a fix for this code, in the registry's
    order."""
    return [record.name for record in REGISTRY if record.snippet(code) is not None]
