"""The live dashboard: a Textual app fed by our proxy, which runs in a process of its own.

The proxy's process (capture/process.py) sends what it records over a private socket; it is
merged into the session, and the app pulls what is new on a timer: a slow screen can never slow
the proxy or lose a handshake. The first screen is drawn while that process starts.
"""

from __future__ import annotations

import dataclasses
import gc
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Input

from wsinspect.capture.limits import DEFAULT_LIMITS, Limits
from wsinspect.capture.proxy import ProxyConfig, ProxyError
from wsinspect.diagnose import diagnosis_of
from wsinspect.model import Handshake, Session
from wsinspect.stack_choice import StackChoices, host_port
from wsinspect.text import printable
from wsinspect.tui.safe import url_on_screen
from wsinspect.tui.widgets.detail import DetailPane
from wsinspect.tui.widgets.handshake_list import HandshakeList
from wsinspect.tui.widgets.probe_tab import ProbeRun
from wsinspect.tui.widgets.save_prompt import SavePrompt
from wsinspect.tui.widgets.stack_picker import Picked, StackPicker
from wsinspect.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from wsinspect.capture.service import Capture
    from wsinspect.diagnose.policy import Trial
    from wsinspect.sessions.autosave import Autosave

TICK = 0.1  # seconds between pulls of new handshakes from the session


@dataclass(frozen=True, slots=True)
class LiveOptions:
    proxy: ProxyConfig = dataclasses.field(default_factory=ProxyConfig)
    limits: Limits = DEFAULT_LIMITS
    save: Path | None = None
    save_every: float = 5.0  # seconds between autosaves of ``save``
    demo: bool = False
    attach: Path | None = None  # no proxy of our own: a socket fed by the mitmproxy addon


class WsinspectApp(App[None]):
    """Shows a session: live behind the embedded proxy, or loaded from a file."""

    TITLE = "wsinspect"
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("x", "failures_only", "Failures only"),
        Binding("c", "copy_fix", "Copy fix"),
        Binding("s", "save", "Save"),
        Binding("f", "follow", "Follow"),
        Binding("p", "pause", "Pause"),
        Binding("t", "probe", "Probe"),
        Binding("w", "which_stack", "Stack"),
        Binding("r", "redact", "Redact", show=False),
        Binding("ctrl+l", "clear", "Clear", show=False),
        Binding("n", "free_port", "Free port", show=False),
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("escape", "close_filter", show=False),
        Binding("1", "tab('findings')", "Findings", show=False),
        Binding("2", "tab('request')", "Request", show=False),
        Binding("3", "tab('response')", "Response", show=False),
        Binding("4", "tab('messages')", "Messages", show=False),
        Binding("5", "tab('probe')", "Probe", show=False),
    ]

    def __init__(
        self,
        *,
        session: Session | None = None,
        live: LiveOptions | None = None,
        stacks: StackChoices | None = None,
    ) -> None:
        super().__init__()
        self.session = session if session is not None else Session(created=0.0)
        self.live = live
        self.stacks = stacks if stacks is not None else StackChoices()  # the user's word
        self.proxy: Capture | None = None  # once capturing: our proxy, or the feed
        self.demo = None
        self.paused = False
        self.failures_only = False
        self._shown = 0  # handshakes pulled from the session so far
        self._changed: set[str] = set()
        self._verdicts: dict[str, str] = {}  # counted verdict per handshake, for the status bar
        self._tally: Counter[str] = Counter()
        self._browsers: list = []  # browser.Running started from the command palette
        self.autosave: Autosave | None = None

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Input(
            placeholder="filter: URL, Origin, header, status, stack or finding code", id="filter"
        )
        yield HandshakeList(self.show_details, id="list")
        yield DetailPane(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.status.source = "live" if self.live else "file"
        if self.live is not None:
            self.status.address = str(self.live.attach or self.live.proxy.address)
            self.status.mode = "attached" if self.live.attach else self.live.proxy.mode
            self.call_after_refresh(self.start_proxy)
        self.set_interval(TICK, self.pull)
        self.set_interval(0.5, self.follow_messages)
        self.query_one(HandshakeList).focus()
        self.pull()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast, as literal text unless asked: toasts here carry paths, URLs and errors from
        outside, and Textual reads markup by default, where ``[@click=…]`` runs an action."""
        super().notify(
            printable(message),
            title=printable(title),
            severity=severity,
            timeout=timeout,
            markup=markup,
        )

    def action_help_quit(self) -> None:
        """Textual's Ctrl+C hint, without its markup (toasts here are literal)."""
        self.notify("Press q to quit", title="Do you want to quit?")

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def handshake_list(self) -> HandshakeList:
        return self.query_one(HandshakeList)

    @property
    def detail(self) -> DetailPane:
        return self.query_one(DetailPane)

    # -- the live proxy ----------------------------------------------------------------------

    @work(exclusive=True, group="proxy")
    async def start_proxy(self, port: int | None = None) -> None:
        """Capture behind our own proxy (on ``port``, if given), or from the split-mode feed."""
        assert self.live is not None
        capture = self._capture(port)
        try:
            await capture.start()
        except ProxyError as e:
            if self.live.attach is None:
                self.status.error = f"{e}. Press n to listen on a free port instead, or q to quit."
            else:
                self.status.error = f"{e}. Press q to quit."
            return
        self.proxy = capture
        self.status.error = ""
        self.status.address = capture.address
        _settle_collector()
        if self.live.attach is None and self.live.proxy.exposure is not None:
            self.notify(self.live.proxy.exposure, title="Exposed", severity="warning", timeout=30)
        self.start_autosave()
        if self.live.demo:
            from wsinspect.demo import Demo

            self.demo = Demo(proxy_port=capture.port)
            await self.demo.start()

    def _capture(self, port: int | None) -> Capture:
        from wsinspect.capture.service import Capture

        assert self.live is not None
        if self.live.attach is not None:
            return Capture.attached(self.live.attach, [self], session=self.session)
        config = self.live.proxy
        if port is not None:
            config = dataclasses.replace(config, port=port)
        return Capture.separate(
            config, [self], session=self.session, limits=self.live.limits, on_exit=self.proxy_ended
        )

    def proxy_ended(self, why: str) -> None:
        """The proxy's process ended unasked (killed, out of memory): say so, keep what came."""
        self.status.error = f"{why}. What was captured stays; press q to quit."
        self.notify(why, severity="error", timeout=30)

    def start_autosave(self) -> None:
        """With --save, the file is kept current while capturing: a crash loses one interval."""
        from wsinspect.sessions.autosave import Autosave

        if self.live is None or self.live.save is None or self.autosave is not None:
            return

        def failed(message: str) -> None:
            self.status.error = message  # on the status line until a save works again
            self.notify(message, severity="error", timeout=10)

        def recovered(message: str) -> None:
            self.status.error = ""
            self.notify(message)

        self.autosave = Autosave(
            self.session,
            self.live.save,
            interval=self.live.save_every,
            on_error=failed,
            on_recovered=recovered,
        )
        self.autosave.start()

    async def stop_proxy(self) -> None:
        if self.demo is not None:
            await self.demo.stop()
            self.demo = None
        if self.proxy is not None:
            await self.proxy.stop()
            self.proxy = None

    async def action_quit(self) -> None:
        for running in self._browsers:  # their profiles are temporary
            running.stop()
        await self.stop_proxy()
        if self.autosave is not None and not await self.autosave.stop():  # the last changes
            from wsinspect.sessions.autosave import save_for_good

            # The file could not be written: save it elsewhere, and tell the terminal where.
            saved, message = save_for_good(self.session, self.autosave.path)
            self.exit(return_code=0 if saved else 2, message=Text(f"wsinspect: {message}"))
            return
        if self.autosave is None and self.live is not None and self.live.save is not None:
            self.write_session(self.live.save, force=True)
        await self.saves_under_way()
        self.exit()

    # Recorder listener: answered handshakes are pulled from the session; closes are noted.
    def handshake_answered(self, handshake: Handshake) -> None:
        self._changed.add(handshake.id)  # listed while it waited: its row changes now

    websocket_closed = handshake_answered

    # -- pulling what is new -----------------------------------------------------------------

    def pull(self) -> None:
        shown = self.screen.query
        if not (shown(HandshakeList) and shown(StatusBar) and shown(DetailPane)):
            return  # another screen is on top, or shutting down (its widgets go one by one)
        new = self.session.since(self._shown)
        if new and not self.paused:
            self._shown += len(new)
            for handshake in new:
                self.stacks.apply(handshake)
            self.handshake_list.add(new)
            for handshake in new:
                self._count(handshake)
        if self._changed:
            selected = self.handshake_list.selected
            for handshake_id in self._changed:
                handshake = self.session.get(handshake_id)
                if handshake is not None:
                    self.stacks.apply(handshake)  # an update is a new record
                    self._count(handshake)
                    self.handshake_list.changed(handshake)
                    if handshake is selected:
                        self.detail.refresh_content()
            self._changed.clear()
        self.status.update_counts(
            len(self.session),
            self._tally["error"],
            self._tally["warning"],
            self.handshake_list.listed_count,
            self.paused,
            0 if self.proxy is None else self.proxy.dropped,  # an attached feed's
        )

    def _count(self, handshake: Handshake) -> None:
        """Keep the verdict tally current without walking the whole session every tick."""
        previous = self._verdicts.get(handshake.id)
        if previous is not None:
            self._tally[previous] -= 1
        verdict = self._verdicts[handshake.id] = diagnosis_of(handshake).verdict
        self._tally[verdict] += 1

    def follow_messages(self) -> None:
        """Keep the messages of a selected, still open WebSocket current."""
        if not self.screen.query(DetailPane):
            return
        handshake = self.detail.handshake
        if handshake is not None and handshake.websocket and handshake.websocket.close is None:
            self.detail.refresh_content()

    def show_details(self, handshake: Handshake | None) -> None:
        self.detail.show(handshake)

    # -- actions -----------------------------------------------------------------------------

    def action_tab(self, name: str) -> None:
        self.detail.show_tab(name)

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    def action_close_filter(self) -> None:
        field = self.query_one("#filter", Input)
        if field.display and not field.value:
            field.display = False
        self.handshake_list.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.handshake_list.set_filter(event.value, self.failures_only)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.handshake_list.focus()

    def action_failures_only(self) -> None:
        self.failures_only = not self.failures_only
        self.handshake_list.set_filter(self.query_one("#filter", Input).value, self.failures_only)
        self.notify("Showing failures and warnings only" if self.failures_only else "Showing all")

    def action_follow(self) -> None:
        self.handshake_list.follow = True
        self.handshake_list.action_last()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.notify("Paused: capturing continues, the list waits" if self.paused else "Resumed")
        self.pull()

    def action_clear(self) -> None:
        if self.proxy is not None:
            self.proxy.clear()  # and news of what was cleared is not wanted either
        else:
            self.session.clear()
        self._shown = 0
        self._verdicts.clear()
        self._tally.clear()
        self.handshake_list.clear()
        self.pull()

    def action_redact(self) -> None:
        """Every view hides the same secrets, or shows them: the list, the tabs, copies."""
        redact = not self.detail.redact
        self.handshake_list.set_redact(redact)
        self.detail.set_redact(redact)
        self.notify("Secrets hidden" if redact else "Secrets shown")

    def action_copy_fix(self) -> None:
        snippet = self.detail.top_fix
        if snippet is None:
            self.notify("No fix to copy for this handshake", severity="warning")
            return
        self.copy_to_clipboard(snippet)
        self.notify("Fix copied to the clipboard")

    def action_save(self) -> None:
        self.push_screen(SavePrompt(), self.save_prompted)

    def save_prompted(self, path: Path | None) -> None:
        if path is not None:
            self.write_session(path)

    @work(group="save")
    async def write_session(self, path: Path, force: bool = False) -> bool:
        """Save what was captured up to now; a worker thread writes it while the proxy goes on
        relaying (5,000 handshakes take seconds), and a toast says when it is done."""
        from wsinspect.sessions import OutputError, check_writable, save_in_background

        try:
            check_writable(path, force=force)
            snapshot = await save_in_background(self.session, path)
        except (OutputError, OSError) as e:
            message = str(e) if isinstance(e, OutputError) else f"cannot write {path}: {e}"
            self.notify(message, severity="error", timeout=8)
            return False
        self.notify(f"Saved {len(snapshot)} handshakes to {path}")
        return True

    async def saves_under_way(self) -> None:
        """Wait for the saves being written: quitting must not leave a file unwritten."""
        saves = [worker for worker in self.workers if worker.group == "save"]
        if saves:  # (none: Textual would wait for every worker)
            await self.workers.wait_for_complete(saves)

    def action_probe(self, with_credentials: bool = False) -> None:
        handshake = self.detail.handshake
        if handshake is None:
            self.notify("Select a handshake to probe", severity="warning")
            return
        self.probe(handshake, with_credentials)

    def action_probe_with_credentials(self) -> None:
        self.action_probe(with_credentials=True)

    @work(exclusive=True, group="probe")
    async def probe(self, handshake: Handshake, with_credentials: bool) -> None:
        """Probe the handshake's URL with its own headers; the Probe tab shows it as it goes."""
        from wsinspect.probe import Target, Unreachable, probe, variants

        target = Target.of(handshake, with_credentials)
        detail = self.detail
        before = detail.probes.get(target.url)
        run = ProbeRun(target, len(variants(target)), before=before and before.report)
        detail.probes[target.url] = run
        detail.show_tab("probe")
        detail.probe_changed(target.url)

        def progress(trial: Trial) -> None:
            run.trials.append(trial)
            detail.probe_changed(target.url)

        try:
            run.report = await probe(target, progress)
        except Unreachable as e:
            run.error = str(e)
        detail.probe_changed(target.url)
        url = url_on_screen(target.url, detail.redact)
        if run.error is not None:
            self.notify(run.error.replace(target.url, url), title="Probe", severity="error")
        else:
            self.notify(f"{url}: {len(run.trials)} handshakes, see the Probe tab", title="Probe")

    def action_which_stack(self) -> None:
        handshake = self.detail.handshake
        key = None if handshake is None else host_port(handshake)
        if key is None:
            self.notify("Select a handshake to say which stack answers it", severity="warning")
            return

        def chosen(picked: Picked | None) -> None:
            if picked is not None:
                self.stack_chosen(key, picked.name)

        self.push_screen(StackPicker(key, self.stacks.name_for(key)), chosen)

    def stack_chosen(self, key: str, name: str | None) -> None:
        """Diagnose every handshake of that host again with the user's word, and remember it."""
        problem = self.stacks.choose(key, name)
        for handshake in self.session:
            if host_port(handshake) == key:
                self.stacks.apply(handshake)
                self._count(handshake)
                self.handshake_list.changed(handshake)
        self.detail.refresh_content()
        said = f"{key} runs {name}" if name else f"{key}: what its answers say"
        self.notify(f"{said} (remembered)" if self.stacks.path and not problem else said)
        if problem:
            self.notify(problem, severity="warning", timeout=10)

    def action_free_port(self) -> None:
        if self.live is not None and self.proxy is None:
            self.start_proxy(0)

    def action_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help_text, action in (
            (
                "Filter",
                "Filter handshakes by URL, Origin, header or finding code",
                self.action_filter,
            ),
            (
                "Failures only",
                "Toggle showing only failed and warned handshakes",
                self.action_failures_only,
            ),
            ("Copy fix", "Copy the selected handshake's top fix", self.action_copy_fix),
            (
                "Which stack is this?",
                "Say which server stack answers the selected handshake's host: its fix first",
                self.action_which_stack,
            ),
            (
                "Probe",
                "Send the selected handshake again with other Origins and subprotocols",
                self.action_probe,
            ),
            (
                "Probe with credentials",
                "The same, sending the captured cookies, tokens and other secrets too",
                self.action_probe_with_credentials,
            ),
            ("Save session", "Save as .json, .har, .mitm or .md (report)", self.action_save),
            ("Follow", "Jump to the newest handshake and follow", self.action_follow),
            ("Pause / resume", "Freeze the list; capturing continues", self.action_pause),
            ("Toggle redaction", "Show or hide cookies and tokens", self.action_redact),
            ("Clear", "Forget every handshake captured so far", self.action_clear),
        ):
            yield SystemCommand(title, help_text, action)
        if self.proxy is not None and self.live is not None and self.live.attach is None:
            yield SystemCommand(
                "Open a browser through this proxy",
                "A fresh Chromium/Chrome/Edge/Brave or Firefox profile that captures localhost "
                "and wss://",
                self.action_browser,
            )

    def action_browser(self) -> None:
        from wsinspect import browser

        if self.proxy is None:  # the command is listed only while our proxy runs
            return
        try:
            launch = browser.prepare(f"127.0.0.1:{self.proxy.port}")
            running = launch.start()  # stopped, its profile removed, however we end
        except browser.BrowserError as e:
            self.notify(str(e), severity="error", timeout=10)
            return
        self._browsers.append(running)
        for note in launch.notes:
            self.notify(note, timeout=15)
        self.set_timer(browser.STARTUP_WAIT, lambda: self._browser_started(running))

    def _browser_started(self, running) -> None:
        """Say "Started" only if it still runs: with no display it exits at once, and says why."""
        if running.process.poll() is None:
            self.notify(f"Started {running.launch.browser.path}")
            return
        self._browsers.remove(running)
        self.notify(running.why_exited(), severity="error", timeout=15)


def _settle_collector() -> None:
    """What exists once capture starts (Textual, Rich and the first screen) lives as long as the
    dashboard: collected once and frozen, the cycle collector never walks it again. A full
    collection stops every thread, and walking these took 60-77 ms of each (bench/blocking.py)."""
    gc.collect()
    gc.freeze()
