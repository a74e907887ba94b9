"""Asks where to save the session; the extension picks the format (secrets are redacted)."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class SavePrompt(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="save-dialog"):
            yield Label(
                "Save to (.json session, .har HTTP Archive, .mitm mitmproxy flows, .md report):"
            )
            yield Input(value="wsinspect-session.json", id="save-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        self.dismiss(Path(value).expanduser() if value else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
