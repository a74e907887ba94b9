"""The handshake list: one line per handshake, on Textual's line API.

Measured here: DataTable needs ~15 s to first render 100k rows and ~250 ms per update at that
size; a ScrollView that renders only the visible lines handles 100k rows in milliseconds. Rows are
built as rich Text (never markup strings: a path like /api[/v1] would break markup parsing),
rendered once per width and cached until the handshake changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from wsinspect.diagnose import diagnosis_of
from wsinspect.model import Handshake
from wsinspect.report import status_text, top_finding
from wsinspect.text import printable
from wsinspect.tui.safe import on_screen
from wsinspect.tui.widgets.scrolling import set_scroll_range

INDEX_BATCH = 500  # handshakes whose search text is built per tick (~5 ms): 5,000 a second
VERDICT_STYLE = {"ok": "green", "warning": "yellow", "error": "bold red"}
COLUMNS = (
    ("time", 9),
    ("status", 7),
    ("url", 34),
    ("origin", 24),
    ("subprotocol", 22),
    ("stack", 20),
)


def row_text(handshake: Handshake) -> Text:
    """The cells of one row, each padded to its column; the top finding takes the rest."""
    offered = ", ".join(handshake.offered_subprotocols)
    selected = handshake.selected_subprotocol or "-"
    diagnosis = diagnosis_of(handshake)
    cells = {
        "time": time.strftime("%H:%M:%S", time.localtime(handshake.started)),
        "status": status_text(handshake),
        "url": handshake.url,
        "origin": handshake.origin or "-",
        "subprotocol": f"{offered} -> {selected}" if offered else selected,
        "stack": diagnosis.stack.name if diagnosis.stack else "",
    }
    style = VERDICT_STYLE[diagnosis.verdict]
    text = Text(no_wrap=True, overflow="ellipsis")
    for name, width in COLUMNS:
        value = printable(cells[name])
        if len(value) > width - 1:
            value = value[: width - 2] + "…"
        text.append(value.ljust(width), style if name in ("status", "url") else "")
    text.append(printable(top_finding(handshake)), style)
    return text


def header_text() -> Text:
    text = Text(no_wrap=True)
    for name, width in COLUMNS:
        text.append(name.upper().ljust(width))
    text.append("FINDING")
    return text


class HandshakeList(ScrollView, can_focus=True):
    """All handshakes that pass the filter, newest at the bottom, followed while at the bottom."""

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]

    cursor: reactive[int] = reactive(-1, repaint=False)

    def __init__(self, on_select: Callable[[Handshake | None], None], *, id: str | None = None):
        """``on_select`` is called, not messaged: a message reaches the app a frame after the
        cursor is drawn, and the details would trail the cursor visibly."""
        super().__init__(id=id)
        self._on_select = on_select
        self._all: list[Handshake] = []
        self._visible: list[int] = []  # indexes into _all that pass the filter
        self._cache: dict[tuple[str, int], Strip] = {}
        self._search: dict[str, str] = {}  # what the filter searches, per handshake
        self._indexed = 0  # handshakes in _all whose search text was built ahead of time
        self._filter = ""
        self._failures_only = False
        self.follow = True
        self.redact = True  # rows hide secrets as the detail pane does

    def on_mount(self) -> None:
        self.set_interval(0.1, self._index_ahead)

    def _index_ahead(self) -> None:
        """Build what the filter searches a batch at a time, before the first key is typed:
        built for 5,000 handshakes at that key, it held the proxy's loop up for 50+ ms."""
        end = min(len(self._all), self._indexed + INDEX_BATCH)
        for handshake in self._all[self._indexed : end]:
            if handshake.id not in self._search:
                self._search[handshake.id] = search_text(handshake)
        self._indexed = end

    def set_redact(self, redact: bool) -> None:
        """Hide or show secrets: every cached row was drawn the other way."""
        self.redact = redact
        self._cache.clear()
        self.refresh()

    # -- data --------------------------------------------------------------------------------

    @property
    def listed_count(self) -> int:
        return len(self._visible)

    @property
    def selected(self) -> Handshake | None:
        if 0 <= self.cursor < len(self._visible):
            return self._all[self._visible[self.cursor]]
        return None

    def listed(self) -> list[Handshake]:
        """The handshakes the filter lets through, in order. (Not ``visible``: that is Textual's
        own property of every widget, which its focus and layout code read.)"""
        return [self._all[i] for i in self._visible]

    def add(self, handshakes: list[Handshake]) -> None:
        """Append new handshakes (a batch: the app drains its queue a few times a second)."""
        start = len(self._all)
        self._all.extend(handshakes)
        self._visible.extend(i for i in range(start, len(self._all)) if self._passes(self._all[i]))
        self._resize()
        if self.follow and self._visible:
            self.cursor = len(self._visible) - 1
            self.scroll_end(animate=False, immediate=True)

    def changed(self, handshake: Handshake) -> None:
        """A handshake was updated (diagnosed again, closed): drop its cached line."""
        for key in [k for k in self._cache if k[0] == handshake.id]:
            del self._cache[key]
        self._search.pop(handshake.id, None)
        self.refresh()

    def clear(self) -> None:
        self._all.clear()
        self._visible.clear()
        self._cache.clear()
        self._search.clear()
        self._indexed = 0
        self.cursor = -1
        self._resize()
        self._on_select(None)

    def set_filter(self, text: str, failures_only: bool) -> None:
        keep = self.selected
        self._filter = text.strip().lower()
        self._failures_only = failures_only
        self._visible = [i for i, h in enumerate(self._all) if self._passes(h)]
        position = next(
            (n for n, i in enumerate(self._visible) if self._all[i] is keep), len(self._visible) - 1
        )
        self.cursor = position
        self._resize()
        self._show_cursor()
        self._on_select(self.selected)

    def _passes(self, handshake: Handshake) -> bool:
        if self._failures_only and diagnosis_of(handshake).verdict == "ok":
            return False
        if not self._filter:
            return True
        text = self._search.get(handshake.id)
        if text is None:
            text = self._search[handshake.id] = search_text(handshake)
        return self._filter in text

    # -- rendering ---------------------------------------------------------------------------

    def _resize(self) -> None:
        # Only the scroll range changes: no screen layout (it costs a frame per arriving batch).
        size = Size(self.size.width, len(self._visible) + 1)
        set_scroll_range(self, size)
        self.refresh()

    def on_resize(self) -> None:
        self._cache.clear()
        self._resize()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return (
                Strip(header_text().render(self.app.console), width)
                .crop_extend(0, width, Style(bold=True, reverse=True))
                .simplify()
            )
        index = self.scroll_offset.y + y - 1
        if index >= len(self._visible):
            return Strip.blank(width, self.rich_style)
        handshake = self._all[self._visible[index]]
        key = (handshake.id, width)
        strip = self._cache.get(key)
        if strip is None:
            row = row_text(on_screen(handshake, self.redact))
            segments = list(row.render(self.app.console))
            strip = Strip(segments).crop_extend(0, width, None).simplify()
            self._cache[key] = strip
        if index == self.cursor:
            # Only the background marks the cursor: a failed row stays red when selected.
            cursor = self.get_component_rich_style("handshake-list--cursor")
            style = Style(bgcolor=cursor.bgcolor)
            strip = Strip([Segment(s.text, (s.style or Style()) + style) for s in strip], width)
        return strip

    COMPONENT_CLASSES = {"handshake-list--cursor"}

    # -- moving ------------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        for row in (old, new):
            self.refresh(Region(0, row - self.scroll_offset.y + 1, self.size.width, 1))
        self._on_select(self.selected)

    def _show_cursor(self) -> None:
        top = self.scroll_offset.y
        rows = max(1, self.size.height - 1)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + rows:
            self.scroll_to(y=self.cursor - rows + 1, animate=False, immediate=True)
        self.refresh()

    def _move_to(self, row: int) -> None:
        if not self._visible:
            return
        self.cursor = max(0, min(row, len(self._visible) - 1))
        self.follow = self.cursor == len(self._visible) - 1
        self._show_cursor()

    def action_cursor(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(1, self.size.height - 2))

    def action_first(self) -> None:
        self._move_to(0)

    def action_last(self) -> None:
        self._move_to(len(self._visible) - 1)

    def on_click(self, event) -> None:
        self._move_to(self.scroll_offset.y + event.y - 1)


def search_text(handshake: Handshake) -> str:
    """What the filter searches: URL, Origin, every header, status, stack and finding codes."""
    diagnosis = diagnosis_of(handshake)
    parts = [handshake.url, status_text(handshake), diagnosis.verdict]
    parts += [f"{k}: {v}" for k, v in handshake.request.headers]
    if handshake.response is not None:
        parts += [f"{k}: {v}" for k, v in handshake.response.headers]
    if diagnosis.stack is not None:
        parts.append(diagnosis.stack.name)
    parts += [f.code for f in diagnosis.findings]
    return "\n".join(parts).lower()
