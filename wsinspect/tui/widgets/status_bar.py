"""The top bar: where the proxy listens, how to point a browser at it, and live counts."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from wsinspect.model import Session


class StatusBar(Static):
    source: reactive[str] = reactive("live")
    address: reactive[str] = reactive("")
    mode: reactive[str] = reactive("regular")
    error: reactive[str] = reactive("")
    counts: reactive[str] = reactive("")

    def update_counts(self, session: Session, shown: int, paused: bool) -> None:
        handshakes = list(session.since(0))
        failed = sum(h.verdict == "error" for h in handshakes)
        warned = sum(h.verdict == "warning" for h in handshakes)
        text = f"{len(handshakes)} handshakes · {failed} failed · {warned} warnings"
        if shown != len(handshakes):
            text += f" · {shown} shown"
        if paused:
            text += " · PAUSED"
        self.counts = text

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" wsinspect ", style="bold reverse")
        if self.source == "file":
            text.append("  saved session  ")
        elif self.error:
            text.append(f"  {self.error}  ", style="bold red")
        elif not self.address or self.address.endswith(":0"):
            text.append("  starting the proxy…  ", style="dim")
        else:
            text.append(f"  proxy {self.address} ({self.mode})  ", style="bold")
        text.append(self.counts, style="bold")
        if self.source == "live" and self.address and self.mode == "regular" and not self.error:
            text.append(
                f"   set {self.address} as the browser's HTTP proxy; Chrome also needs "
                "--proxy-bypass-list='<-loopback>' for localhost",
                style="dim",
            )
        return text
