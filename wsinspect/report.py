"""Diagnosed handshakes rendered for people: terminal text and Markdown, and as plain JSON data.

Everything captured passes through ``printable`` before it reaches a terminal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from wsinspect.model import Handshake
from wsinspect.text import printable

if TYPE_CHECKING:
    from wsinspect.diagnose.policy import Trial
    from wsinspect.probe import ProbeReport

VERDICT_LABEL = {"ok": "OK", "warning": "WARN", "error": "FAIL"}


def status_text(handshake: Handshake) -> str:
    return str(handshake.status) if handshake.status is not None else "---"


def top_finding(handshake: Handshake) -> str:
    if not handshake.findings:
        return ""
    first = handshake.findings[0]
    return f"{first.code}: {first.title}"


def handshake_line(handshake: Handshake) -> str:
    """One line per handshake, as `record` prints them: safe for a terminal."""
    clock = time.strftime("%H:%M:%S", time.localtime(handshake.started))
    offered = ", ".join(handshake.offered_subprotocols) or "-"
    parts = [
        clock,
        f"{VERDICT_LABEL[handshake.verdict]:<4}",
        status_text(handshake),
        handshake.url,
        f"origin {handshake.origin or '-'}",
        f"subprotocol {offered} -> {handshake.selected_subprotocol or '-'}",
    ]
    if handshake.findings:
        parts.append(top_finding(handshake))
    elif handshake.error:
        parts.append(f"error: {handshake.error}")
    return printable("  ".join(parts))


def summary(handshakes: list[Handshake]) -> str:
    failed = sum(h.verdict == "error" for h in handshakes)
    warned = sum(h.verdict == "warning" for h in handshakes)
    return (
        f"{len(handshakes)} handshakes: {failed} failed, {warned} with warnings, "
        f"{len(handshakes) - failed - warned} ok"
    )


def text(handshakes: Iterable[Handshake]) -> str:
    """The full terminal report: each handshake, then its findings with evidence and fixes."""
    from wsinspect.diagnose import rule_page

    items = list(handshakes)
    out: list[str] = []
    for handshake in items:
        out.append(handshake_line(handshake))
        if handshake.stack is not None:
            stack = handshake.stack
            confidence = f" ({stack.confidence:.0%})" if stack.name != "unknown" else ""
            out.append(f"  stack: {stack.name}{confidence} — {'; '.join(stack.evidence)}")
        for finding in handshake.findings:
            out.append(f"  [{finding.severity}] {finding.code}: {finding.title}")
            out.append(f"    {finding.explanation}")
            for name, value in finding.evidence.items():
                out.append(f"    {name}: {value}")
            for fix in finding.fixes:
                out.append(f"    fix for {fix.stack} ({fix.language}):")
                out.extend(f"      {line}" for line in fix.snippet.splitlines())
            out.append(f"    see {rule_page(finding.code)}")
        out.append("")
    out.append(summary(items))
    return printable_lines(out)


def printable_lines(lines: list[str]) -> str:
    return "\n".join(printable(line) for line in lines) + "\n"


def markdown(handshakes: Iterable[Handshake]) -> str:
    """A report to paste into a ticket: a summary table, then each failed handshake in full."""
    from wsinspect.diagnose import rule_page

    items = list(handshakes)
    out = ["# WebSocket handshakes", "", summary(items), ""]
    out += ["| verdict | status | URL | Origin | stack | finding |", "|---|---|---|---|---|---|"]
    for h in items:
        stack = h.stack.name if h.stack else ""
        cells = [h.verdict, status_text(h), h.url, h.origin or "", stack, top_finding(h)]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    for h in items:
        if not h.findings:
            continue
        out += ["", f"## {status_text(h)} {h.url}", "", f"What happened: {what_happened(h)}", ""]
        for finding in h.findings:
            out += [f"### {finding.code}: {finding.title}", "", finding.explanation, ""]
            out += [f"- **{name}**: `{value}`" for name, value in finding.evidence.items()]
            for fix in finding.fixes:
                out += ["", f"Fix for {fix.stack}:", "", f"```{fix.language}", fix.snippet, "```"]
            out += ["", f"See [{finding.code}]({rule_page(finding.code)})."]
    return "\n".join(out) + "\n"


def what_happened(h: Handshake) -> str:
    """The attempt's outcome in one sentence, as a person would tell it."""
    by = f" ({h.stack.name})" if h.stack and h.stack.name != "unknown" else ""
    if h.response is None:
        return f"no answer: {h.error or 'the connection ended'}."
    answer = f"the server{by} answered {h.response.status} {h.response.reason}".rstrip()
    if h.response.status != 101:
        return answer + ": the browser reports the WebSocket as failed."
    ws = h.websocket
    if ws is not None and ws.close is not None:
        code = "1005 (no code)" if ws.close.code is None else str(ws.close.code)
        by_side = f" by the {ws.close.by}" if ws.close.by else ""
        return f"{answer}; the WebSocket opened and was closed{by_side} with {code}."
    return f"{answer}; the WebSocket opened."


def _cell(value: str) -> str:
    return printable(value).replace("|", "\\|")


def as_json(handshakes: Iterable[Handshake]) -> str:
    return json.dumps([h.to_dict() for h in handshakes], ensure_ascii=False, indent=1) + "\n"


# -- the probe -----------------------------------------------------------------------------------

PROBE_COLUMNS = ("variant", "Origin", "offered", "status", "selected", "stack", "findings")


def probe_rows(trials: Iterable[Trial]) -> list[tuple[str, ...]]:
    """The matrix: one row per variant sent."""
    rows = []
    for trial in trials:
        h, v = trial.handshake, trial.variant
        stack = h.stack.name if h.stack and h.stack.name != "unknown" else ""
        findings = ", ".join(f.code for f in h.findings) or ("" if h.response else h.error or "")
        rows.append(
            (
                v.name,
                "(none)" if v.origin is None else v.origin,
                ", ".join(v.subprotocols) or "-",
                status_text(h),
                h.selected_subprotocol or "-",
                stack,
                findings,
            )
        )
    return rows


def probe_text(report: ProbeReport) -> str:
    """The matrix, then the policy in words: for a terminal."""
    rows = [PROBE_COLUMNS, *probe_rows(report.trials)]
    widths = [max(len(printable(row[i])) for row in rows) for i in range(len(PROBE_COLUMNS))]
    out = [f"probe {report.target.url}: {len(report.trials)} handshakes, each closed at once", ""]
    for row in rows:
        cells = (printable(c).ljust(w) for c, w in zip(row, widths, strict=True))
        out.append("  ".join(cells).rstrip())
    out += ["", "policy:"]
    out += [f"  {VERDICT_LABEL[s.severity]:<4}  {s.text}" for s in report.policy]
    left_out = report.target.left_out()
    if left_out:
        out += ["", f"not sent: {', '.join(left_out)} (--with-credentials sends them)"]
    return printable_lines(out)


def probe_json(report: ProbeReport) -> str:
    document = {
        "url": report.target.url,
        "verdict": report.verdict,
        "variants": [
            {
                "variant": t.variant.name,
                "origin": t.variant.origin,
                "subprotocols": list(t.variant.subprotocols),
                "status": t.handshake.status,
                "selected_subprotocol": t.handshake.selected_subprotocol,
                "stack": t.handshake.stack.name if t.handshake.stack else None,
                "verdict": t.handshake.verdict,
                "findings": [f.code for f in t.handshake.findings],
                "error": t.handshake.error,
            }
            for t in report.trials
        ],
        "policy": [{"severity": s.severity, "text": s.text} for s in report.policy],
        "not_sent": report.target.left_out(),
    }
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"
