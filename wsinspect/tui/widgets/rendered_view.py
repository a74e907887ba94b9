"""A scrollable Rich renderable on the line API: replacing it repaints the view, nothing else."""

from __future__ import annotations

from rich.console import RenderableType
from rich.segment import Segment
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from wsinspect.tui.widgets.scrolling import set_scroll_range


class RenderedView(ScrollView, can_focus=True):
    """Shows one renderable, rendered to lines once per content and width.

    A ``Static`` in a scroll container changes height with its content, and a height change makes
    Textual lay out and repaint the whole screen: measured, that put a moving cursor's details two
    frames behind the cursor. Here only the scroll range changes, so the screen is not laid out.
    """

    DEFAULT_CSS = """
    RenderedView {
        overflow-x: hidden;
        scrollbar-gutter: stable;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._renderable: RenderableType = Text()
        # Segments, made Strips only when drawn: a Strip carries seven caches of its own, and
        # 200 lines of them per cursor move filled the collector's oldest generation until it
        # walked every object, 200 ms at a time (issue 14).
        self._lines: list[list[Segment]] = []
        self._width = 0  # the width _lines were rendered at

    @property
    def text(self) -> str:
        """The shown content as plain text (what a test or a copy would see)."""
        return "\n".join("".join(s.text for s in line).rstrip() for line in self._lines)

    def update(self, renderable: RenderableType) -> None:
        self._renderable = renderable
        self._lines = []  # the old content's: not to be drawn again, even by a hidden view
        self._width = 0
        if self.scroll_offset.y:
            self.scroll_to(0, 0, animate=False, immediate=True)
        self._render_lines()
        self.refresh()

    def on_resize(self) -> None:
        self._render_lines()

    def _render_lines(self) -> None:
        width = self.scrollable_content_region.width
        if width < 1 or width == self._width:
            return
        console = self.app.console
        options = console.options.update_width(width)
        rendered = console.render_lines(self._renderable, options, pad=False)
        self._lines = rendered
        self._width = width
        size = Size(width, len(self._lines))
        if size != self.virtual_size:
            # The view keeps its size; only the scroll range changes, so no layout is needed.
            set_scroll_range(self, size)
        # A tab just opened was drawn (blank) before it had a width to render at; without this,
        # Textual keeps those blank lines and the tab stays empty.
        self.refresh()

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        style = self.rich_style
        if index >= len(self._lines):
            return Strip.blank(width, style)
        return Strip(self._lines[index]).crop_extend(0, width, style).apply_style(style)
