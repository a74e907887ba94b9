"""Diagnosed handshakes rendered for people: terminal text and Markdown, and as plain JSON data.

Everything captured passes through ``printable`` before it reaches a terminal.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from wsinspect.diagnose import diagnosis_of
from wsinspect.model import Handshake, to_builtins
from wsinspect.sessions.redact import redact_url
from wsinspect.text import printable

if TYPE_CHECKING:
    from wsinspect.diagnose.policy import Trial
    from wsinspect.probe import ProbeReport

VERDICT_LABEL = {"ok": "OK", "warning": "WARN", "error": "FAIL"}


def status_text(handshake: Handshake) -> str:
    return str(handshake.status) if handshake.status is not None else "---"


def top_finding(handshake: Handshake) -> str:
    findings = diagnosis_of(handshake).findings
    return f"{findings[0].code}: {findings[0].title}" if findings else ""


def known_stack(handshake: Handshake) -> str:
    """The name of the stack that answered, or "" when it was not recognised."""
    stack = diagnosis_of(handshake).stack
    return stack.name if stack is not None and stack.name != "unknown" else ""


def handshake_line(handshake: Handshake) -> str:
    """One line per handshake, as `record` prints them: safe for a terminal."""
    clock = time.strftime("%H:%M:%S", time.localtime(handshake.started))
    offered = ", ".join(handshake.offered_subprotocols) or "-"
    diagnosis = diagnosis_of(handshake)
    parts = [
        clock,
        f"{VERDICT_LABEL[diagnosis.verdict]:<4}",
        status_text(handshake),
        handshake.url,
        f"origin {handshake.origin or '-'}",
        f"subprotocol {offered} -> {handshake.selected_subprotocol or '-'}",
    ]
    if diagnosis.findings:
        parts.append(top_finding(handshake))
    elif handshake.error:
        parts.append(f"error: {handshake.error}")
    return printable("  ".join(parts))


def summary(handshakes: Iterable[Handshake]) -> str:
    return _summary(Counter(diagnosis_of(h).verdict for h in handshakes))


def _summary(verdicts: Counter[str]) -> str:
    failed, warned = verdicts["error"], verdicts["warning"]
    total = sum(verdicts.values())
    return (
        f"{total} handshakes: {failed} failed, {warned} with warnings, {total - failed - warned} ok"
    )


# The reports come as chunks, a handshake's worth each, so that a session of 200,000 attempts is
# written as it is rendered rather than held whole (~1 GB of text; issue 13). ``text``,
# ``markdown`` and ``as_json`` join the same chunks into one string for whoever wants it.


def text(handshakes: Iterable[Handshake]) -> str:
    """The full terminal report: each handshake, then its findings with evidence and fixes."""
    return "".join(text_chunks(handshakes))


def text_chunks(handshakes: Iterable[Handshake]) -> Iterator[str]:
    verdicts: Counter[str] = Counter()
    for handshake in handshakes:
        verdicts[diagnosis_of(handshake).verdict] += 1
        yield printable_lines(_text_lines(handshake))
    yield printable_lines([_summary(verdicts)])


def _text_lines(handshake: Handshake) -> list[str]:
    from wsinspect.diagnose import named_by_you, rule_page

    out = [handshake_line(handshake)]
    diagnosis = diagnosis_of(handshake)
    if diagnosis.stack is not None:
        stack = diagnosis.stack
        confidence = f" ({stack.confidence:.0%})" if stack.name != "unknown" else ""
        confidence = " (named by you)" if named_by_you(stack) else confidence
        out.append(f"  stack: {stack.name}{confidence} — {'; '.join(stack.evidence)}")
    for finding in diagnosis.findings:
        out.append(f"  [{finding.severity}] {finding.code}: {finding.title}")
        out.append(f"    {finding.explanation}")
        for name, value in finding.evidence.items():
            out.append(f"    {name}: {value}")
        for fix in finding.fixes:
            out.append(f"    fix for {fix.stack} ({fix.language}):")
            out.extend(f"      {line}" for line in fix.snippet.expandtabs(4).splitlines())
        out.append(f"    see {rule_page(finding.code)}")
    out.append("")
    return out


def printable_lines(lines: list[str]) -> str:
    return "\n".join(printable(line) for line in lines) + "\n"


def markdown(handshakes: Iterable[Handshake]) -> str:
    """A report to paste into a ticket: a summary table, then each failed handshake in full.

    Nothing captured can add a link, an image or HTML to the ticket: captured values are code
    spans or fenced blocks (never linked by any renderer), and prose that quotes them is escaped.
    """
    return "".join(markdown_chunks(handshakes))


def markdown_chunks(handshakes: Iterable[Handshake]) -> Iterator[str]:
    """The Markdown report. ``handshakes`` is gone through twice (the table, then the details):
    a session, or a view redacting each as it is read, holds none of them for long."""
    if iter(handshakes) is handshakes:  # an iterator: it would be used up by the table
        handshakes = list(handshakes)
    yield _lines(["# WebSocket handshakes", "", summary(handshakes), ""])
    yield _lines(
        ["| verdict | status | URL | Origin | stack | finding |", "|---|---|---|---|---|---|"]
    )
    yield from map(_lines, map(_markdown_row, handshakes))
    for h in handshakes:
        if diagnosis_of(h).findings:
            yield _lines(_markdown_details(h))


def _lines(lines: Iterable[str] | str) -> str:
    if isinstance(lines, str):
        return lines + "\n"
    return "".join(line + "\n" for line in lines)


def _markdown_row(h: Handshake) -> str:
    diagnosis = diagnosis_of(h)
    stack = md_text(diagnosis.stack.name) if diagnosis.stack else ""
    cells = [
        md_text(diagnosis.verdict),
        status_text(h),
        _in_table(md_code(h.url)),
        _in_table(md_code(h.origin or "")),
        stack,
        md_text(top_finding(h)),
    ]
    return "| " + " | ".join(cells) + " |"


def _markdown_details(h: Handshake) -> list[str]:
    from wsinspect.diagnose import rule_page

    out = ["", f"## {status_text(h)} {md_code(h.url)}", ""]
    out += [f"What happened: {md_text(what_happened(h))}", ""]
    for finding in diagnosis_of(h).findings:
        out += [f"### {md_text(finding.code)}: {md_text(finding.title)}", ""]
        out += [md_text(finding.explanation), ""]
        out += [f"- **{md_text(name)}**: {md_code(v)}" for name, v in finding.evidence.items()]
        for fix in finding.fixes:
            out += ["", f"Fix for {md_text(fix.stack)}:", ""]
            out += md_fenced(fix.snippet, fix.language)
        if _RULE_CODE.fullmatch(finding.code):
            out += ["", f"See [{finding.code}]({rule_page(finding.code)})."]
    return out


# -- Markdown that captured text cannot escape -----------------------------------------------------

_RULE_CODE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # a code of ours, safe in a link
# Escaped wherever they are: what makes links, images, HTML, entities, emphasis, code spans,
# table cells, headings and math; and what lets a renderer turn a bare URL, domain or address
# into a link (the ":" of "://", a dot inside a name, "@").
_MD_SPECIAL = re.compile(r"[\\`*_\[\]<>!&|~#$@]|:(?=/)|\.(?=\w)")
# What starts a list, a quote or a setext heading when it begins a line.
_MD_LINE_START = re.compile(r"^(?:[-+=>]|\d{1,9}(?=[.)]))")


def md_text(value: str) -> str:
    """Captured text within prose, on one line, read as the very characters it holds."""
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(), printable(value).lstrip())
    return _MD_LINE_START.sub(_escape_line_start, text)


def _escape_line_start(match: re.Match[str]) -> str:
    marker = match.group()  # "1." lists by its dot, "-" by itself
    return marker + "\\" if marker.isdigit() else "\\" + marker


def md_code(value: str) -> str:
    """A code span holding ``value`` literally: its fence is longer than any run of backticks in
    it, so nothing inside can close it."""
    text = printable(value)
    if not text:
        return ""
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    edge = text[0] == "`" or text[-1] == "`" or (text[0] == text[-1] == " " and text.strip())
    pad = " " if edge else ""  # a renderer strips one space from each side
    return f"{fence}{pad}{text}{pad}{fence}"


def _in_table(cell: str) -> str:
    """GFM splits a row on every unescaped pipe, even inside a code span."""
    return cell.replace("|", "\\|")


def md_fenced(content: str, language: str) -> list[str]:
    """A fenced code block whose fence no line of ``content`` can close."""
    lines = ["\t".join(map(printable, line.split("\t"))) for line in content.splitlines()]
    longest = max(map(len, re.findall("`+", content)), default=0)
    fence = "`" * max(3, longest + 1)
    info = re.sub(r"[^A-Za-z0-9_+-]", "", language)
    return [fence + info, *lines, fence]


def what_happened(h: Handshake) -> str:
    """The attempt's outcome in one sentence, as a person would tell it."""
    by = f" ({known_stack(h)})" if known_stack(h) else ""
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


def as_json(handshakes: Iterable[Handshake]) -> str:
    return "".join(json_chunks(handshakes))


def json_chunks(handshakes: Iterable[Handshake]) -> Iterator[str]:
    """``json.dumps(list, indent=1)``, an item at a time: each item's lines one space further in
    (JSON text holds no raw newline within a string, so lines split where the layout does)."""
    separator = "[\n "
    for handshake in handshakes:
        document = to_builtins(handshake) | to_builtins(diagnosis_of(handshake))
        item = json.dumps(document, ensure_ascii=False, indent=1)
        yield separator + item.replace("\n", "\n ")
        separator = ",\n "
    yield "[]\n" if separator == "[\n " else "\n]\n"


# -- the probe -----------------------------------------------------------------------------------

PROBE_COLUMNS = ("variant", "Origin", "offered", "status", "selected", "stack", "findings")


def probe_rows(trials: Iterable[Trial]) -> list[tuple[str, ...]]:
    """The matrix: one row per variant sent."""
    rows = []
    for trial in trials:
        h, v = trial.handshake, trial.variant
        stack = known_stack(h)
        findings = ", ".join(f.code for f in diagnosis_of(h).findings) or (
            "" if h.response else h.error or ""
        )
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
    url = redact_url(report.target.url)
    out = [f"probe {url}: {len(report.trials)} handshakes, each closed at once", ""]
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
        "url": redact_url(report.target.url),
        "verdict": report.verdict,
        "variants": [_probe_variant(t) for t in report.trials],
        "policy": [{"severity": s.severity, "text": s.text} for s in report.policy],
        "not_sent": report.target.left_out(),
    }
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def _probe_variant(trial: Trial) -> dict[str, object]:
    handshake, diagnosis = trial.handshake, diagnosis_of(trial.handshake)
    return {
        "variant": trial.variant.name,
        "origin": trial.variant.origin,
        "subprotocols": list(trial.variant.subprotocols),
        "status": handshake.status,
        "selected_subprotocol": handshake.selected_subprotocol,
        "stack": diagnosis.stack.name if diagnosis.stack else None,
        "verdict": diagnosis.verdict,
        "findings": [f.code for f in diagnosis.findings],
        "error": handshake.error,
    }
