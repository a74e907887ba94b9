"""Why a handshake failed, which stack answered, and the fix: a pure function of the handshake.

No I/O, no clock, no globals: the same function runs on live captures, loaded files and in tests.
Views and writers ask ``diagnosis_of``, which keeps the result beside the record until the
capture adds what could change it (the answer, an error, the close).
"""

from __future__ import annotations

from wsinspect.diagnose.facts import facts_of
from wsinspect.diagnose.rules import FALLBACK, RULES, Context, rule_page
from wsinspect.diagnose.stacks import recognise
from wsinspect.model import Diagnosis, Handshake, Verdict, keep_beside, kept_beside

SEVERITY_RANK = {"warning": 1, "error": 2}


def diagnose(handshake: Handshake) -> Diagnosis:
    if handshake.response is None and handshake.error is None:
        return Diagnosis("ok", None, ())  # still waiting for the answer
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
    return Diagnosis(verdict, context.recognition.stack(), tuple(findings))


def diagnosis_of(handshake: Handshake) -> Diagnosis:
    """``diagnose(handshake)``, computed again only when the capture has added to it since."""
    state = _state(handshake)  # before diagnosing: a change meanwhile is seen next time
    diagnosis = kept_beside(handshake, _KEPT, state)
    if diagnosis is None:
        diagnosis = diagnose(handshake)
        keep_beside(handshake, _KEPT, state, diagnosis)
    return diagnosis


def remember(handshake: Handshake, diagnosis: Diagnosis) -> Handshake:
    """Keep ``diagnosis`` as ``handshake``'s: for a copy diagnosed as its original was (a
    redacted copy is diagnosed from what was captured, not from what is left after redaction)."""
    keep_beside(handshake, _KEPT, _state(handshake), diagnosis)
    return handshake


_KEPT = "_diagnosis"


def _state(handshake: Handshake) -> tuple[object, ...]:
    """What a diagnosis depends on that the capture sets after the request: the answer, the
    error, the close."""
    ws = handshake.websocket
    return handshake.response, handshake.error, ws, None if ws is None else ws.close


__all__ = ["Diagnosis", "diagnose", "diagnosis_of", "remember", "rule_page"]
