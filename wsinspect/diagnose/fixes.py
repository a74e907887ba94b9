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

from wsinspect.diagnose.facts import Facts, expected_accept
from wsinspect.diagnose.neutral import NEUTRAL
from wsinspect.diagnose.stacks import REGISTRY, Recognition, Snippet, by_name
from wsinspect.model import Fix

NEUTRAL_NAME = "generic"  # Fix.stack of a stack-neutral fix


def values(facts: Facts) -> dict[str, str]:
    """The observed values a template may use."""
    handshake = facts.handshake
    host = facts.host or (facts.target.authority if facts.target else "")
    scheme = "https" if handshake.url.startswith("wss:") else "http"
    key = facts.request.get("Sec-WebSocket-Key") or ""
    return {
        "origin": facts.origin or f"{scheme}://{host}",
        "origin_host": facts.origin_host or host,
        "origin_hostname": facts.origin_endpoint.host if facts.origin_endpoint else host,
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


def fixes_for(code: str, recognition: Recognition, facts: Facts, *, own: bool = False) -> list[Fix]:
    """Fixes for ``code``: the recognised stacks' (and close runners-up') first, then the
    neutral one. ``own``: fill origin lists with the server's own origin instead of the seen one
    (cross-origin-accepted must not allow-list the foreign site it warns about)."""
    stacks = recognition.names()
    if recognition.server is None:  # unknown server: offer the likely stacks too
        stacks += popular(code)
    return _filled(code, stacks, facts, own)


def every_fix(code: str, facts: Facts, *, own: bool = False) -> list[Fix]:
    """Every stack's fix for ``code``, then the neutral one: the rule pages show them all."""
    return _filled(code, popular(code), facts, own)


def _filled(code: str, stacks: list[str], facts: Facts, own: bool) -> list[Fix]:
    filled = values(facts)
    if own:
        filled["origin"] = filled["own_origin"]
        filled["origin_host"] = filled["host"]
    result = []
    for name in dict.fromkeys(stacks):
        record = by_name(name)
        snippet = record.snippet(code) if record else None
        if snippet is not None:
            result.append(_filled_snippet(name, snippet, filled))
    neutral = NEUTRAL.get(code)
    if neutral is not None:
        result.append(_filled_snippet(NEUTRAL_NAME, neutral, filled))
    return result


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
