"""The Probe tab: the selected endpoint asked again with other Origins and subprotocols.

The probe runs in the app (a worker); this module only draws a run as it goes and, when the
endpoint was probed before, whether the handshake as given changed since (did the fix take?).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from wsinspect.diagnose import diagnosis_of
from wsinspect.diagnose.policy import Trial
from wsinspect.report import PROBE_COLUMNS, VERDICT_LABEL, probe_rows
from wsinspect.tui.safe import literal, on_screen, url_on_screen

if TYPE_CHECKING:
    from wsinspect.probe import ProbeReport, Target

STYLE = {"ok": "green", "warning": "yellow", "error": "red"}


@dataclass
class ProbeRun:
    """One probe of an endpoint, from the first request to the policy."""

    target: Target
    planned: int
    trials: list[Trial] = field(default_factory=list)
    report: ProbeReport | None = None
    error: str | None = None
    before: ProbeReport | None = None  # the endpoint's previous probe, to compare with
    started: float = field(default_factory=time.time)


def probe_view(run: ProbeRun | None, redact: bool = True) -> RenderableType:
    """The run so far; with ``redact``, the URL and answers hide secrets as the other tabs do."""
    if run is None:
        return Text(
            "Press t to probe this endpoint: the handshake is sent again as captured, then "
            "same-origin, without an Origin, from a foreign Origin, with Origin null, and with "
            "each offered subprotocol alone and none. Each WebSocket is closed at once; no "
            "message is sent. Credentials are left out: cookies, Authorization and any other "
            "header, URL parameter or subprotocol that is hidden on screen as a secret (palette: "
            "probe with credentials). After you change the server, press t again to see whether "
            "the fix took.",
            style="dim",
        )
    clock = time.strftime("%H:%M:%S", time.localtime(run.started))
    if run.report is None and run.error is None:
        state = f"{len(run.trials)} of {run.planned} handshakes sent…"
    else:
        state = f"{len(run.trials)} handshakes, each closed at once"
    url = run.target.url
    shown_url = url_on_screen(url, redact)

    def hide(text: str) -> str:
        return text.replace(url, shown_url)

    parts: list[RenderableType] = [literal(f"Probe of {shown_url} at {clock}: {state}", "bold")]
    if run.trials:
        table = Table(box=None, padding=(0, 1))
        for column in PROBE_COLUMNS:
            table.add_column(column, overflow="fold")
        trials = [Trial(t.variant, on_screen(t.handshake, redact)) for t in run.trials]
        for trial, row in zip(trials, probe_rows(trials), strict=True):
            style = "green" if trial.accepted else "red"
            table.add_row(*(literal(hide(cell)) for cell in row), style=style)  # not markup
        parts.append(table)
    if run.error is not None:
        parts.append(literal(hide(run.error), "red"))
    if run.report is not None:
        parts.append(Text("\npolicy:", style="bold"))
        for statement in run.report.policy:
            line = Text(
                f"  {VERDICT_LABEL[statement.severity]:<4}  ", style=STYLE[statement.severity]
            )
            line.append_text(literal(hide(statement.text)))
            parts.append(line)
        if run.before is not None:
            parts.append(_since(run.before, run.report))
    left_out = run.target.left_out()
    if left_out:
        sent = "not sent: " + ", ".join(left_out)
        parts += [Text(), literal(f"{sent} (palette: probe with credentials)", "dim")]
    return Group(*parts)


def _since(before: ProbeReport, now: ProbeReport) -> Text:
    """The handshake as given, then and now: the answer to "did my fix work?"."""
    then, current = before.trials[0].handshake, now.trials[0].handshake
    verdict_then, verdict_now = diagnosis_of(then).verdict, diagnosis_of(current).verdict
    was = f"{then.status or 'no answer'} {VERDICT_LABEL[verdict_then]}"
    is_ = f"{current.status or 'no answer'} {VERDICT_LABEL[verdict_now]}"
    if verdict_then != "ok" and verdict_now == "ok":
        return Text(f"\nsince the last probe: {was} → {is_}: the fix took", style="bold green")
    if verdict_then == "ok" and verdict_now != "ok":
        return Text(f"\nsince the last probe: {was} → {is_}: it broke", style="bold red")
    changed = [a.text for a in now.policy if a.text not in {b.text for b in before.policy}]
    if was == is_ and not changed:
        return Text(f"\nsince the last probe: no change ({is_})", style="yellow")
    return Text(f"\nsince the last probe: {was} → {is_}; the policy changed", style="yellow")
