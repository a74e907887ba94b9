"""Why a handshake failed, which stack answered, and the fix: a pure function of the handshake.

No I/O, no clock, no globals: the same function runs on live captures, loaded files and in tests.
Views and writers ask ``diagnosis_of``, which keeps the result beside the record until the
capture adds what could change it (the answer, an error, the close).
"""

from __future__ import annotations

from wsinspect.diagnose.facts import facts_of
from wsinspect.diagnose.rules import FALLBACK, RULES, Context, rule_page
from wsinspect.diagnose.stacks import Candidate, Recognition, by_name, recognise
from wsinspect.model import Diagnosis, Handshake, Stack, Verdict, keep_beside, kept_beside

SEVERITY_RANK = {"warning": 1, "error": 2}


NAMED_BY_YOU = 1.0  # a stack the user named; recognition from the wire stops at 0.99


def diagnose(handshake: Handshake, declared: str | None = None) -> Diagnosis:
    """``declared``: the stack the user says answers (a registry name), taken as recognised,
    whatever the wire shows; an unknown name is ignored."""
    if handshake.response is None and handshake.error is None:
        return Diagnosis("ok", None, ())  # still waiting for the answer
    facts = facts_of(handshake)
    recognition = _as_declared(recognise(facts), declared)
    context = Context.of(facts, recognition)
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


def _as_declared(recognition: Recognition, declared: str | None) -> Recognition:
    """The named stack first and certain; the others as the wire weighed them."""
    record = by_name(declared) if declared else None
    if record is None:
        return recognition
    named = Candidate(
        record.name, record.kind, NAMED_BY_YOU, (f"you said this host runs {record.name}",)
    )
    others = tuple(c for c in recognition.ranked if c.name != record.name)
    return Recognition((named, *others))


def named_by_you(stack: Stack) -> bool:
    """Whether views should say "named by you" rather than a confidence."""
    return stack.confidence >= NAMED_BY_YOU


def declare(handshake: Handshake, name: str | None) -> Handshake:
    """Keep the stack the user says answers ``handshake`` beside it (None: what the wire says);
    ``diagnosis_of`` diagnoses it again with that stack. An input, never saved."""
    record = by_name(name) if name else None
    keep_beside(handshake, _DECLARED, (), None if record is None else record.name)
    return handshake


def declared(handshake: Handshake) -> str | None:
    """The stack the user named for ``handshake`` (``declare``), if any."""
    return kept_beside(handshake, _DECLARED, ())


def diagnosis_of(handshake: Handshake) -> Diagnosis:
    """``diagnose(handshake)``, computed again only when the capture has added to it since."""
    state = _state(handshake)  # before diagnosing: a change meanwhile is seen next time
    diagnosis = kept_beside(handshake, _KEPT, state)
    if diagnosis is None:
        diagnosis = diagnose(handshake, declared(handshake))
        keep_beside(handshake, _KEPT, state, diagnosis)
    return diagnosis


def remember(handshake: Handshake, diagnosis: Diagnosis) -> Handshake:
    """Keep ``diagnosis`` as ``handshake``'s: for a copy diagnosed as its original was (a
    redacted copy is diagnosed from what was captured, not from what is left after redaction)."""
    keep_beside(handshake, _KEPT, _state(handshake), diagnosis)
    return handshake


_KEPT = "_diagnosis"
_DECLARED = "_declared"


def _state(handshake: Handshake) -> tuple[object, ...]:
    """What a diagnosis depends on that the capture sets after the request: the answer, the
    error, the close, a failed TLS handshake (replaced as its repeats are counted); and the stack
    the user named (the registry's own name: same object)."""
    ws = handshake.websocket
    close = None if ws is None else ws.close
    return handshake.response, handshake.error, ws, close, handshake.tls, declared(handshake)


__all__ = [
    "Diagnosis",
    "declare",
    "declared",
    "diagnose",
    "diagnosis_of",
    "named_by_you",
    "remember",
    "rule_page",
]
