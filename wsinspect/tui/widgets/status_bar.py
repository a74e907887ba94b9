"""The top bar: where the proxy listens, how to point a browser at it, and live counts."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from wsinspect.text import printable


class StatusBar(Static):
    source: reactive[str] = reactive("live")
    address: reactive[str] = reactive("")
    mode: reactive[str] = reactive("regular")
    error: reactive[str] = reactive("")
    counts: reactive[str] = reactive("")

    def update_counts(
        self, total: int, failed: int, warned: int, shown: int, paused: bool, dropped: int = 0
    ) -> None:
        text = f"{total} handshakes · {failed} failed · {warned} warnings"
        if shown != total:
            text += f" · {shown} shown"
        if dropped:
            text += f" · {dropped} updates dropped by the addon (the dashboard fell behind)"
        if paused:
            text += " · PAUSED"
        self.counts = text

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" wsinspect ", style="bold reverse")
        if self.source == "file":
            text.append("  saved session  ")
        elif self.error:
            text.append(f"  {printable(self.error)}  ", style="bold red")
        elif self.mode == "attached":
            text.append(f"  attached at {printable(self.address)}  ", style="bold")
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
        if self.mode == "attached" and not self.error:
            text.append('   run mitmdump -s "$(wsinspect addon-path)" to feed it', style="dim")
        return text
