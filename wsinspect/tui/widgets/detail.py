"""The detail pane of the selected handshake: findings first, then headers, body and messages."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from functools import lru_cache

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import TabbedContent, TabPane

from wsinspect.diagnose import diagnosis_of
from wsinspect.model import Handshake, Headers, Message
from wsinspect.text import printable
from wsinspect.tui.safe import literal, on_screen, printable_block
from wsinspect.tui.widgets.probe_tab import ProbeRun, probe_view
from wsinspect.tui.widgets.rendered_view import RenderedView

# Headers that decide a handshake: highlighted wherever they appear.
TELLING = {
    "origin",
    "host",
    "upgrade",
    "connection",
    "sec-websocket-protocol",
    "sec-websocket-version",
    "sec-websocket-accept",
    "sec-websocket-key",
    "sec-websocket-extensions",
    "location",
    "server",
}
SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow"}
OPCODES = {0: "cont", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
SYNTAX = {"caddyfile": "text", "haproxy": "text", "yaml": "yaml", "apache": "apacheconf"}


@lru_cache(maxsize=512)
def highlighted(snippet: str, language: str) -> Text:
    """A fix snippet, syntax-highlighted once: the same fixes recur across many handshakes."""
    from rich.syntax import Syntax  # Pygments: imported after the first screen

    snippet = printable_block(snippet)  # it quotes captured text: an Origin, a path
    text = Syntax(snippet, language, theme="ansi_dark").highlight(snippet)
    text.rstrip()
    text.no_wrap = False  # wrapped, not cut: a fix in words, a table's value past the edge
    return text


def findings_view(handshake: Handshake) -> RenderableType:
    from wsinspect.diagnose import named_by_you, rule_page

    diagnosis = diagnosis_of(handshake)
    parts: list[RenderableType] = []
    headline = Text()
    headline.append(f"{diagnosis.verdict.upper()}  ", style=VERDICT_STYLE[diagnosis.verdict])
    headline.append(printable(handshake.url))
    parts.append(headline)
    if diagnosis.stack is not None:
        stack = diagnosis.stack
        line = Text("stack: ", style="dim")
        line.append(stack.name, style="bold")
        if named_by_you(stack):
            line.append(" (named by you)", style="dim")
        elif stack.name != "unknown":
            line.append(f" ({stack.confidence:.0%})", style="dim")
        line.append(" — " + printable("; ".join(stack.evidence)), style="dim")
        parts.append(line)
    if handshake.error:
        parts.append(Text(f"error: {printable(handshake.error)}", style="red"))
    if not diagnosis.findings:
        parts.append(Text("\nNo findings: the handshake looks healthy.", style="green"))
    for number, finding in enumerate(diagnosis.findings, 1):
        title = Text(
            f"\n{number}. [{finding.severity}] {finding.code}: ",
            style=SEVERITY_STYLE[finding.severity],
        )
        title.append(printable(finding.title), style="bold")
        parts += [title, Text(printable(finding.explanation))]
        if finding.evidence:
            table = Table.grid(padding=(0, 2))
            table.add_column(style="bold cyan", no_wrap=True)
            table.add_column()
            for name, value in finding.evidence.items():
                table.add_row(literal(name), literal(value))  # a str cell would be markup
            parts.append(table)
        for fix in finding.fixes:
            parts.append(Text(f"fix for {fix.stack}:", style="bold green"))
            parts.append(highlighted(fix.snippet, SYNTAX.get(fix.language, fix.language)))
        parts.append(Text(f"see {rule_page(finding.code)}", style="underline dim"))
    return Group(*parts)


def headers_view(title: str, first_line: str, headers: Headers, evidence: set[str]) -> Text:
    text = Text()
    text.append(printable(first_line) + "\n", style="bold")
    for name, value in headers:
        lowered = name.lower()
        style = "bold yellow" if lowered in evidence else ("cyan" if lowered in TELLING else "")
        text.append(printable(name), style=style or "dim")
        text.append(": " + printable(value) + "\n", style=style)
    if not headers:
        text.append(f"(no {title} headers)\n", style="dim")
    return text


def messages_view(handshake: Handshake) -> RenderableType:
    from wsinspect.diagnose import closecodes

    ws = handshake.websocket
    if ws is None:
        return Text("No WebSocket: the handshake was not upgraded.", style="dim")
    counts = ws.counts
    summary = Text(
        f"client → server: {counts.client_messages} messages, {counts.client_bytes} bytes   "
        f"server → client: {counts.server_messages} messages, {counts.server_bytes} bytes",
        style="bold",
    )
    parts: list[RenderableType] = [summary]
    if ws.messages_dropped:
        parts.append(Text(f"(the {ws.messages_dropped} oldest messages are not kept)", style="dim"))
    parts.append(MessageRows(ws.messages))
    if ws.close is not None:
        close = ws.close
        code = "1005" if close.code is None else str(close.code)
        by = f" by the {close.by}" if close.by else ""
        reason = f" “{printable(close.reason)}”" if close.reason else ""
        style = "yellow" if closecodes.is_abnormal(close.code) else "green"
        parts.append(
            Text(f"closed{by}: {code}{reason} — {closecodes.meaning(close.code)}", style=style)
        )
    else:
        parts.append(Text("open", style="green"))
    return Group(*parts)


class MessageRows:
    """The messages as a table: an arrow, time, opcode, length, and the preview in the width
    left, wrapped. Drawn a line at a time, where a Rich ``Table`` measured every cell of every
    row first: 200 messages took 120-300 ms on the proxy's loop at each cursor move (issue 14)."""

    HEADERS = ("", "time", "opcode", "length")

    def __init__(self, messages: Iterable[Message]) -> None:
        self.rows = [self._row(message) for message in messages]

    @staticmethod
    def _row(message: Message) -> tuple[list[Segment], Text]:
        arrow = "→" if message.side == "client" else "←"
        length = f"{message.length} deflated" if message.compressed else str(message.length)
        cells = [
            Segment(arrow, Style(color="cyan" if message.side == "client" else "magenta")),
            Segment(time.strftime("%H:%M:%S", time.localtime(message.time))),
            Segment(OPCODES.get(message.opcode, str(message.opcode))),
            Segment(length),
        ]
        preview = message.preview + ("…" if message.truncated else "")
        return cells, literal(preview, style="dim" if message.preview_encoding == "base64" else "")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        widths = [len(header) for header in self.HEADERS]
        for cells, _ in self.rows:
            widths = [max(width, len(cell.text)) for width, cell in zip(widths, cells, strict=True)]
        widths[0] = max(widths[0], 1)
        left = sum(width + 2 for width in widths)  # each cell padded by a space on both sides
        preview_width = max(8, options.max_width - left - 2)
        bold = Style(bold=True)
        header = [*self.HEADERS, "preview"]
        for text, width in zip(header, [*widths, preview_width], strict=True):
            yield Segment(f" {text.ljust(width)} ", bold)
        yield Segment.line()
        blank = Segment(" " * left)
        for cells, preview in self.rows:
            for number, line in enumerate(self._wrapped(console, preview, preview_width)):
                if number == 0:
                    for cell, width in zip(cells, widths, strict=True):
                        pad = " " * (width - len(cell.text))
                        yield from (Segment(" "), cell, Segment(f"{pad} "))
                else:
                    yield blank
                yield Segment(" ")
                yield from line
                yield Segment(" ")
                yield Segment.line()

    @staticmethod
    def _wrapped(console: Console, preview: Text, width: int) -> Iterator[list[Segment]]:
        """The preview's lines, each padded to ``width`` in the preview's style; most fit in
        one, and are not measured by Rich (the costly part)."""
        style = console.get_style(preview.style) if preview.style else Style.null()
        plain = preview.plain
        if plain.isascii() and len(plain) <= width:
            yield [Segment(plain.ljust(width), style)]
            return
        for line in preview.wrap(console, width, overflow="fold"):
            drawn = Segment.apply_style(line.render(console), style)
            yield [*drawn, Segment(" " * (width - line.cell_len), style)]


def request_view(handshake: Handshake) -> RenderableType:
    line = f"{handshake.request.method} {handshake.url} {handshake.request.http_version}"
    line += f"  from {handshake.client.address}"
    return headers_view("request", line, handshake.request.headers, _evidence_names(handshake))


def response_view(handshake: Handshake) -> RenderableType:
    r = handshake.response
    if r is None:
        return Text(f"No answer: {printable(handshake.error or 'waiting')}", style="red")
    body = Text(
        "\n" + printable(r.body) if r.body else "\n(empty body)", style="" if r.body else "dim"
    )
    if r.body_truncated:
        body.append("\n… (cut at 64 KiB)", style="dim")
    first = f"{r.http_version} {r.status} {r.reason}"
    return Text.assemble(
        headers_view("response", first, r.headers, _evidence_names(handshake)), body
    )


def _evidence_names(handshake: Handshake) -> set[str]:
    """Header names a finding cites as evidence, e.g. "Sec-WebSocket-Protocol (offered)"."""
    return {
        name.split(" (")[0].lower() for f in diagnosis_of(handshake).findings for name in f.evidence
    }


RENDERERS = {
    "findings": findings_view,
    "request": request_view,
    "response": response_view,
    "messages": messages_view,
}


VERDICT_STYLE = {"ok": "bold green", "warning": "bold yellow", "error": "bold red"}


TABS = ("findings", "request", "response", "messages", "probe")


class DetailPane(Vertical):
    """Tabs for one handshake. ``redact`` hides cookies and tokens (screen sharing)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.handshake: Handshake | None = None
        self.redact = True
        self.probes: dict[str, ProbeRun] = {}  # the latest probe of each URL
        self._stale: set[str] = set()

    def compose(self) -> ComposeResult:
        with TabbedContent():
            for name in TABS:
                with TabPane(name.title(), id=f"tab-{name}"):
                    yield RenderedView(id=f"detail-{name}")

    def show_tab(self, name: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{name}"

    def show(self, handshake: Handshake | None) -> None:
        self.handshake = handshake
        self.refresh_content()

    def refresh_content(self) -> None:
        """Render the visible tab now; the others when they are opened (moving stays fast)."""
        self._stale = set(TABS)
        if self.is_mounted:  # else on_mount renders: the list may select before this is built
            self._render_tab(self.query_one(TabbedContent).active.removeprefix("tab-"))

    def on_mount(self) -> None:
        self.refresh_content()

    def set_redact(self, redact: bool) -> None:
        """Hide or show secrets; tabs not in view are emptied now, so none flashes a secret
        that was hidden while it waited to be drawn again."""
        self.redact = redact
        active = self.query_one(TabbedContent).active.removeprefix("tab-")
        for view in self.query(RenderedView).results(RenderedView):
            if view.id != f"detail-{active}":
                view.update(Text())
        self.refresh_content()

    def probe_changed(self, url: str) -> None:
        """A probe of ``url`` went one step further: redraw it if it is on screen."""
        if self.handshake is not None and self.handshake.url == url and self.is_mounted:
            self._stale.add("probe")
            self._render_tab(self.query_one(TabbedContent).active.removeprefix("tab-"))

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._render_tab(event.pane.id.removeprefix("tab-") if event.pane.id else "findings")

    def _render_tab(self, name: str) -> None:
        if name not in self._stale:
            return
        found = self.query(f"#detail-{name}").results(RenderedView)
        widget = next(found, None)
        if widget is None:  # the tabs are still being built: draw once they are
            self.call_after_refresh(self._render_tab, name)
            return
        self._stale.discard(name)
        handshake = self.handshake
        if handshake is None:
            widget.update(Text("Select a handshake.", style="dim"))
            return
        if name == "probe":
            widget.update(probe_view(self.probes.get(handshake.url), self.redact))
            return
        widget.update(RENDERERS[name](on_screen(handshake, self.redact)))

    @property
    def top_fix(self) -> str | None:
        """The fix to copy, as the screen shows it: a copy pasted into a ticket or a chat
        holds no secret the screen hid."""
        if self.handshake is None:
            return None
        for finding in diagnosis_of(on_screen(self.handshake, self.redact)).findings:
            if finding.fixes:
                return finding.fixes[0].snippet
        return None
