"""One copy of what many diagnoses repeat.

A session of 200,000 attempts holds a few kinds of refusal, each diagnosed in the same words
thousands of times: the explanations, titles, evidence and stack evidence are equal strings, and
one copy of each is enough (issue 13: ~7 KB of diagnosis per refused attempt before, ~1 KB after).
A bounded cache, not the interpreter's interning: what a crafted file makes unique is let go.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=16384)
def shared(text: str) -> str:
    """The string equal to ``text`` seen most recently, or ``text`` itself: equal, and shared."""
    return text
