"""Why a handshake failed, which stack answered, and the fix: a pure function of the handshake.

No I/O, no clock, no globals: the same function runs live in the recorder, on loaded files and in
tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from wsinspect.diagnose.facts import facts_of
from wsinspect.diagnose.rules import FALLBACK, RULES, Context, rule_page
from wsinspect.diagnose.stacks import recognise
from wsinspect.model import Finding, Handshake, Stack, Verdict

SEVERITY_RANK = {"warning": 1, "error": 2}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    verdict: Verdict
    stack: Stack | None
    findings: list[Finding]


def diagnose(handshake: Handshake) -> Diagnosis:
    if handshake.response is None and handshake.error is None:
        return Diagnosis("ok", None, [])  # still waiting for the answer
    facts = facts_of(handshake)
    context = Context.of(facts, recognise(facts))
    findings = [finding for rule in RULES if (finding := rule(context)) is not None]
    refused = handshake.response is not None and handshake.response.status != 101
    if refused and not any(f.severity == "error" for f in findings):
        fallback = FALLBACK(context)
        if fallback is not None:
            findings.append(fallback)
    verdict: Verdict = "ok"
    if findings:
        worst = max(SEVERITY_RANK[f.severity] for f in findings)
        verdict = "error" if worst == 2 else "warning"
    return Diagnosis(verdict, context.recognition.stack(), findings)


def apply(handshake: Handshake) -> Handshake:
    """Diagnose and store the result on the handshake (verdict, stack, findings)."""
    result = diagnose(handshake)
    handshake.verdict, handshake.stack, handshake.findings = (
        result.verdict,
        result.stack,
        result.findings,
    )
    return handshake


__all__ = ["Diagnosis", "apply", "diagnose", "rule_page"]
