"""The one private part of Textual the line-API views use, kept here (hence ``textual<9``).

Setting ``virtual_size`` the public way lays out the whole screen, which costs a frame per
arriving batch of handshakes or per opened tab; the views only need their scroll range changed.
"""

from __future__ import annotations

from typing import cast

from textual.geometry import Size
from textual.reactive import Reactive
from textual.scroll_view import ScrollView

# Read on the class, a Reactive is the descriptor itself; Textual's un-annotated declaration makes
# type checkers see "Reactive[Size] | Size" there.
VIRTUAL_SIZE = cast("Reactive[Size]", ScrollView.virtual_size)


def set_scroll_range(view: ScrollView, size: Size) -> None:
    """Give ``view`` a new scrollable size without a layout of the screen."""
    view.set_reactive(VIRTUAL_SIZE, size)
    view._scroll_update(size)
