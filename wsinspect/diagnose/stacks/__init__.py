"""The stack registry: one module per stack, each declaring ``STACK = StackRecord(...)``.

Every module here not starting with ``_`` is a stack, found by walking the package (sorted, so
the registry's order never depends on the file system): adding a stack is adding a module, with
no list to edit. ``recognise`` weighs every record's signals against one handshake's facts;
weights combine as independent evidence (1 - product of misses), so two weak signals make a
medium one. docs/contributing.md says how to add a stack.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.shared import shared
from wsinspect.diagnose.stacks._record import (
    Kind,
    NoFix,
    Refusal,
    Remedy,
    Signal,
    Snippet,
    StackRecord,
    Test,
)
from wsinspect.model import Stack

RECOGNISED = 0.8  # a stack at or above this confidence is recognised: its own fix comes first
RUNNER_UP = 0.4  # below the bar, still close enough for its fix to follow the neutral one


def slug(name: str) -> str:
    """The module name a stack's record lives in: ``coder/websocket`` -> ``coder_websocket``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _discover() -> tuple[StackRecord, ...]:
    records = []
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        if not module.startswith("_"):
            records.append(importlib.import_module(f"{__name__}.{module}").STACK)
    return tuple(records)


REGISTRY: tuple[StackRecord, ...] = _discover()
_BY_NAME = {record.name: record for record in REGISTRY}


def by_name(name: str) -> StackRecord | None:
    return _BY_NAME.get(name)


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    kind: Kind
    confidence: float
    evidence: tuple[str, ...]

    @property
    def recognised(self) -> bool:
        return round(self.confidence, 2) >= RECOGNISED


@dataclass(frozen=True, slots=True)
class Recognition:
    """Every record that matched, best first; the recognised server and proxy, if any."""

    ranked: tuple[Candidate, ...]

    @property
    def server(self) -> Candidate | None:
        return next((c for c in self.ranked if c.kind == "server" and c.recognised), None)

    @property
    def proxy(self) -> Candidate | None:
        return next((c for c in self.ranked if c.kind == "proxy" and c.recognised), None)

    def recognised(self) -> list[StackRecord]:
        """The recognised server, then the recognised proxy: whose fixes come first."""
        return [_BY_NAME[c.name] for c in (self.server, self.proxy) if c is not None]

    def closest(self) -> list[Candidate]:
        """Candidates below the bar but close to it (Django Channels behind uvicorn looks like
        Starlette on the wire): evidence, and their fixes after the neutral one."""
        return [c for c in self.ranked if not c.recognised and c.confidence >= RUNNER_UP]

    def refusal(self, code: str, facts: Facts) -> str | None:
        """Why the answer is a ``code`` refusal in a recognised stack's own words, or None."""
        for record in self.recognised():
            for refusal in record.refusals:
                if refusal.code == code and refusal.test(facts):
                    return refusal.why
        return None

    def stack(self) -> Stack | None:
        server, proxy = self.server, self.proxy
        best = server or proxy
        if best is None:
            if not self.ranked:
                return None
            likely = ", ".join(f"{c.name} ({c.confidence:.0%})" for c in self.ranked[:3])
            return Stack("unknown", 0.0, (shared(f"not recognised; closest: {likely}"),))
        evidence = list(best.evidence)
        if server is not None and proxy is not None:
            evidence += [shared(f"behind {proxy.name}: {e}") for e in proxy.evidence]
        return Stack(best.name, round(best.confidence, 2), tuple(evidence))


def recognise(facts: Facts) -> Recognition:
    candidates = []
    for record in REGISTRY:
        matched = [s for s in (*record.signals, *record.site_signals) if s.test(facts)]
        if not matched:
            continue
        miss = 1.0
        for signal in matched:
            miss *= 1.0 - signal.weight
        confidence = min(0.99, 1.0 - miss)
        evidence = tuple(s.evidence for s in matched)
        candidates.append(Candidate(record.name, record.kind, confidence, evidence))
    candidates.sort(key=lambda c: c.confidence, reverse=True)
    return Recognition(tuple(candidates))


__all__ = [
    "RECOGNISED",
    "REGISTRY",
    "Candidate",
    "NoFix",
    "Recognition",
    "Refusal",
    "Remedy",
    "Signal",
    "Snippet",
    "StackRecord",
    "Test",
    "by_name",
    "recognise",
    "slug",
]
