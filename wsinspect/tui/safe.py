"""What reaches the dashboard's screen: captured text as it is, and secrets hidden unless shown.

Captured text (a URL, an Origin, a response body, a close reason, a path from a file) is drawn as
a rich ``Text``, never parsed as markup: in Rich and Textual markup, ``[@click=app.quit]`` is an
action run on a click and ``[link=…]`` a live link, so a server could otherwise act on the
dashboard. Every view draws a handshake through ``on_screen``, so the list, the detail tabs, the
Probe tab, toasts and copies hide the same secrets while redaction is on (the default; ``r``).
"""

from __future__ import annotations

from rich.style import StyleType
from rich.text import Text

from wsinspect.model import Handshake
from wsinspect.sessions.redact import redact_handshake, redact_url
from wsinspect.text import printable


def literal(text: str, style: StyleType = "") -> Text:
    """Captured text for the screen: control characters escaped, brackets kept as brackets."""
    return Text(printable(text), style=style)


def printable_block(text: str) -> str:
    """Text of several lines (a fix quoting a captured path) made printable, its line breaks and
    tabs kept (Go fixes are indented with tabs)."""
    lines = text.split("\n")
    return "\n".join("\t".join(map(printable, line.split("\t"))) for line in lines)


def on_screen(handshake: Handshake, redact: bool) -> Handshake:
    """The handshake as the screen may show it."""
    return redact_handshake(handshake) if redact else handshake


def url_on_screen(url: str, redact: bool) -> str:
    """A URL as the screen may show it: secret query parameters and userinfo hidden."""
    return redact_url(url) if redact else url
