"""A server's handshake policy, read off its answers to the probe's variants: pure, no I/O.

The probe (``wsinspect/probe.py``) sends the same handshake with other Origins and subprotocols;
this module turns the answers into the rule the server applies, in plain words, and flags the
rules that put users at risk (an endpoint that any web page can open as the logged-in user).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wsinspect.diagnose import diagnosis_of
from wsinspect.model import Handshake, Verdict

Kind = Literal[
    "as given",
    "same-origin",
    "listed Origin",
    "no Origin",
    "foreign Origin",
    "null Origin",
    "one subprotocol",
    "no subprotocol",
]
ORIGIN_KINDS = (
    "as given",
    "same-origin",
    "listed Origin",
    "no Origin",
    "foreign Origin",
    "null Origin",
)
SUBPROTOCOL_KINDS = ("as given", "one subprotocol", "no subprotocol")


@dataclass(frozen=True, slots=True)
class Variant:
    """One way of sending the handshake: which Origin (None: no header) and which subprotocols."""

    kind: Kind
    origin: str | None
    subprotocols: tuple[str, ...]

    @property
    def name(self) -> str:
        if self.kind == "listed Origin":
            return f"Origin {self.origin}"
        if self.kind == "one subprotocol":
            return f"only {self.subprotocols[0]}"
        return self.kind


@dataclass(slots=True)
class Trial:
    """A variant and the diagnosed handshake it produced."""

    variant: Variant
    handshake: Handshake

    @property
    def accepted(self) -> bool:
        return self.handshake.status == 101


@dataclass(frozen=True, slots=True)
class Statement:
    """One sentence of the policy; ``severity`` says whether it is a problem."""

    severity: Verdict
    text: str


def infer(trials: list[Trial], carries_cookies: bool) -> list[Statement]:
    """The policy in plain words. ``carries_cookies``: the real handshake sends cookies, so an
    endpoint open to any Origin can be used by any web page as the user."""
    return _origin_policy(trials, carries_cookies) + _subprotocol_policy(trials)


def _origin_policy(trials: list[Trial], carries_cookies: bool) -> list[Statement]:
    tried = [t for t in trials if t.variant.kind in ORIGIN_KINDS]
    if not any(t.accepted for t in tried):
        findings = diagnosis_of(tried[0].handshake).findings
        if findings and findings[0].code == "origin-rejected":
            text = (
                "refuses every Origin tried, and no Origin: it allows other origins only "
                "(add the page's Origin to its list: see the fix)"
            )
        else:
            why = f" ({findings[0].code})" if findings else ""
            text = (
                f"refuses every variant, with any Origin and without{why}: the refusal is not "
                "about the Origin"
            )
        return [Statement("error", text)]

    def accepted(kind: Kind) -> bool:
        return any(t.accepted for t in tried if t.variant.kind == kind)

    statements: list[Statement] = []
    if accepted("foreign Origin"):
        if carries_cookies:
            statements.append(
                Statement(
                    "warning",
                    "accepts any Origin, and the handshake carries cookies: any web page the "
                    "user visits can open this WebSocket as the user (cross-site WebSocket "
                    "hijacking); check the Origin against an allow-list",
                )
            )
        else:
            statements.append(
                Statement(
                    "ok",
                    "accepts any Origin (fine for public data or a token sent in a message; if "
                    "the endpoint relies on cookies, any web page can use it as the user: "
                    "cross-site WebSocket hijacking)",
                )
            )
        return statements

    same = [t.variant.origin for t in tried if t.variant.kind == "same-origin" and t.accepted]
    others = [
        t.variant.origin
        for t in tried
        if t.variant.kind in ("as given", "listed Origin")
        and t.variant.origin is not None
        and t.accepted
        and t.variant.origin not in same
    ]
    others = list(dict.fromkeys(o for o in others if o != "null"))
    without = (
        " (and clients that send no Origin: scripts, not browsers)" if accepted("no Origin") else ""
    )
    if others:
        also = ", and same-origin" if same else ""
        statements.append(
            Statement("ok", f"accepts these origins: {', '.join(others)}{also}{without}")
        )
    elif same:
        statements.append(Statement("ok", f"accepts same-origin only{without}"))
    else:
        statements.append(
            Statement(
                "error",
                "accepts only handshakes without an Origin: browsers always send one, so every "
                "browser is refused",
            )
        )
    given = tried[0]
    if given.variant.origin is not None and not given.accepted and given.variant.kind == "as given":
        statements.append(
            Statement(
                "error",
                f"refuses the page's Origin {given.variant.origin}: allow it (the diagnosis "
                "of the handshake as given has the fix for this stack)",
            )
        )
    # By value, not kind: when the page's own Origin is null, the probe sends it once, as given.
    if any(t.accepted for t in tried if t.variant.origin == "null"):
        statements.append(
            Statement(
                "warning",
                "accepts Origin: null — sandboxed iframes and file:// pages send it, so any web "
                "page can reach this endpoint through one; do not allow null",
            )
        )
    return statements


def _subprotocol_policy(trials: list[Trial]) -> list[Statement]:
    given = trials[0]
    offered = given.variant.subprotocols
    tried = [t for t in trials if t.variant.kind in SUBPROTOCOL_KINDS]
    if not offered or not any(t.accepted for t in tried):
        return []  # nothing offered, or refused whatever was offered: nothing to learn here
    offering = [t for t in tried if t.variant.subprotocols and t.accepted]
    unselected = [t for t in offering if t.handshake.selected_subprotocol is None]
    wrong = [
        t
        for t in offering
        if t.handshake.selected_subprotocol not in (None, *t.variant.subprotocols)
    ]
    statements: list[Statement] = []
    if offering and len(unselected) == len(offering):
        return [
            Statement(
                "error",
                f"ignores subprotocols: it answers 101 without Sec-WebSocket-Protocol when "
                f"offered {', '.join(offered)}, and browsers then abort the connection",
            )
        ]
    supported = [
        t.variant.subprotocols[0]
        for t in tried
        if t.variant.kind == "one subprotocol"
        and t.accepted
        and t.handshake.selected_subprotocol == t.variant.subprotocols[0]
    ]
    none_accepted = any(t.accepted for t in tried if t.variant.kind == "no subprotocol")
    if supported:
        names = ", ".join(supported)
        if none_accepted:
            statements.append(
                Statement("ok", f"selects {names} when offered; no subprotocol is fine too")
            )
        elif len(supported) == 1:
            statements.append(Statement("ok", f"requires subprotocol {names}"))
        else:
            statements.append(Statement("ok", f"requires one of the subprotocols {names}"))
    for t in unselected:
        statements.append(
            Statement(
                "error",
                f"answers 101 without a subprotocol when offered "
                f"{', '.join(t.variant.subprotocols)}: a browser offering that aborts",
            )
        )
    for t in wrong:
        statements.append(
            Statement(
                "error",
                f"selects {t.handshake.selected_subprotocol}, which was not offered "
                f"({', '.join(t.variant.subprotocols)}): browsers abort the connection",
            )
        )
    return statements
