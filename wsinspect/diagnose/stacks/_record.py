"""What the registry knows about one stack: how to recognise it, how it refuses, how to fix it.

Each module of this package declares one ``STACK = StackRecord(...)``. Everything is plain frozen
data plus small tests over the handshake's facts, so a record reads like the stack's datasheet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from wsinspect.diagnose.facts import Facts

Test = Callable[[Facts], bool]
Kind = Literal["server", "proxy"]


@dataclass(frozen=True, slots=True)
class Signal:
    """One piece of evidence: the words shown to the user, how much it weighs alone (0.5 or more
    names the stack, 0.8 or more recognises it), and the test on the facts."""

    evidence: str
    weight: float
    test: Test


@dataclass(frozen=True, slots=True)
class Refusal:
    """A shape this stack gives a finding code's refusal, e.g. ActionCable's 404 "Page not found"
    for a refused Origin. Counted only when the stack is recognised in the same answer."""

    code: str
    why: str  # completes "The server refused …: {why}"
    test: Test


@dataclass(frozen=True, slots=True)
class Snippet:
    """The fix in this stack's own form. ``template`` and ``knob`` take ``{{placeholders}}``
    (fixes.values); ``knob`` is one line, the setting alone, for the table shown when the stack
    answering is unknown."""

    language: str
    template: str
    knob: str = ""


@dataclass(frozen=True, slots=True)
class NoFix:
    """This stack has no setting of its own for a code, and why (said instead of a snippet)."""

    reason: str


Remedy = Snippet | NoFix


@dataclass(frozen=True, slots=True, eq=False)  # one record per stack: compared by identity
class StackRecord:
    name: str  # as shown to the user; unique
    kind: Kind
    docs: str  # where its knobs are documented
    language: str  # what its users write: python, go, javascript, nginx…
    signals: tuple[Signal, ...]  # tests on the WebSocket answer
    fixes: Mapping[str, Remedy] = field(default_factory=dict[str, Remedy])
    refusals: tuple[Refusal, ...] = ()
    site_signals: tuple[Signal, ...] = ()  # tests on the host's other HTTP answers (facts.site)
    popular: bool = True  # one line in the table shown when the stack is unknown
    produces: tuple[str, ...] = ()  # codes it can cause beyond those in fixes and refusals

    def codes(self) -> frozenset[str]:
        """Every finding code this stack is known to produce: each needs a fix or a NoFix."""
        return frozenset(self.produces) | {r.code for r in self.refusals} | set(self.fixes)

    def snippet(self, code: str) -> Snippet | None:
        remedy = self.fixes.get(code)
        return remedy if isinstance(remedy, Snippet) else None
