"""Asks which stack answers a host: the registry's stacks, and "I don't know" (the wire decides,
so an unrecognised stack gets the neutral fix). The dashboard's w key and its palette open it."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from wsinspect.diagnose.stacks import REGISTRY

DONT_KNOW = "I don't know (the neutral fix, unless its answer names its stack)"
_DONT_KNOW_ID = "\0dont-know"  # no stack is named so


@dataclass(frozen=True, slots=True)
class Picked:
    """The user's answer: a stack's name, or None for "I don't know"."""

    name: str | None


class StackPicker(ModalScreen[Picked | None]):
    """None when closed without choosing: nothing changes."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, host: str, current: str | None) -> None:
        super().__init__()
        self.host = host
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="stack-dialog"):
            yield Label(Text(f"Which stack answers {self.host}? Its fix comes first."))
            yield OptionList(*self._options(), id="stack-options", markup=False)

    def _options(self) -> list[Option]:
        options = [Option(DONT_KNOW, id=_DONT_KNOW_ID)]
        for record in REGISTRY:
            label = Text(record.name)
            label.append(f"  {record.kind}", style="dim")
            if record.name == self.current:
                label.append("  (chosen)", style="bold")
            options.append(Option(label, id=record.name))
        return options

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        current = self.current or _DONT_KNOW_ID
        options.highlighted = options.get_option_index(current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        chosen = event.option.id
        self.dismiss(Picked(None if chosen in (None, _DONT_KNOW_ID) else chosen))

    def action_cancel(self) -> None:
        self.dismiss(None)
