"""Every key of the dashboard and every command of its palette, pressed as a user does, over
handshakes captured through the real proxy from real servers; each test reads what is DRAWN."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.conftest import start_capture, until
from tests.helpers import taken_port
from tests.test_tui import list_text, screen_text
from wsinspect.capture.proxy import ProxyConfig
from wsinspect.sessions import load, save
from wsinspect.tui.app import LiveOptions, WsinspectApp

SIZE = (120, 40)
ALLOWED = Origin("http://app.test")
REFUSED = "http://evil.test"
SECRET = "s3cr3t-cookie"


@dataclass
class Traffic:
    """Handshakes captured through the proxy, and the server they went to (still running)."""

    path: Path  # the saved session
    port: int


async def echo(websocket: ServerConnection) -> None:
    async for message in websocket:
        await websocket.send(message)


async def through(proxy_port: int, url: str, origin: str, cookie: bool = False) -> None:
    """One WebSocket through the proxy; an accepted one says hello and closes."""
    try:
        async with connect(
            url,
            proxy=f"http://127.0.0.1:{proxy_port}",
            origin=Origin(origin),
            additional_headers={"Cookie": f"sid={SECRET}"} if cookie else None,
        ) as websocket:
            await websocket.send("hello")
            await websocket.recv()
    except InvalidStatus:
        pass


async def capture_traffic(saved: Path, ready: threading.Event, stop: asyncio.Event) -> None:
    """Through a real proxy to a real server: an accepted /live that says hello, then a
    refused /chat with a cookie (the newest, selected on opening). The server stays up for
    probes until ``stop``."""
    capture = await start_capture()
    async with serve(echo, "127.0.0.1", 0, origins=[ALLOWED]) as server:
        port = server.sockets[0].getsockname()[1]
        await through(capture.port, f"ws://127.0.0.1:{port}/live", ALLOWED)
        await through(capture.port, f"ws://127.0.0.1:{port}/chat", REFUSED, cookie=True)
        await until(lambda: [h.status for h in capture.session] == [101, 403])
        await until(lambda: capture.handshakes[0].websocket.close is not None)
        await capture.proxy.stop()
        save(capture.session, saved, redact=False)  # the secret, for the redaction toggle
        ready.set()
        await stop.wait()


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traffic]:
    """Captured once for the module, in a thread with its own loop, where the server keeps
    answering probes."""
    saved = tmp_path_factory.mktemp("captured") / "session.json"
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(capture_traffic(saved, ready, stop),), daemon=True
    )
    thread.start()
    assert ready.wait(30), "capturing the sample traffic timed out"
    port = urlsplit(next(iter(load(saved))).url).port
    assert port is not None
    yield Traffic(saved, port)
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()


async def settle(pilot: Pilot) -> None:
    """Let the key's messages, the refresh they ask for and the next frame all happen (two bare
    pauses were not always enough on a busy machine)."""
    await pilot.pause()
    await pilot.pause(0.1)
    await pilot.pause()


async def paste(pilot: Pilot, text: str) -> None:
    """Paste into the focused field: one search or redraw, not one a typed key."""
    focused = pilot.app.screen.focused
    assert isinstance(focused, Input)
    focused.post_message(events.Paste(text))
    await settle(pilot)


async def search_palette(pilot: Pilot, text: str) -> None:
    await pilot.press("ctrl+p")
    await settle(pilot)
    await paste(pilot, text)
    await pilot.pause(0.3)  # the palette searches in the background


async def palette(pilot: Pilot, command: str) -> None:
    """Run a command as a user does: Ctrl+P, its name, Enter."""
    await search_palette(pilot, command)
    await pilot.press("enter")
    await settle(pilot)


def opened(traffic: Traffic) -> WsinspectApp:
    return WsinspectApp(session=load(traffic.path))


def live() -> WsinspectApp:
    return WsinspectApp(live=LiveOptions(proxy=ProxyConfig(port=0)))


def detail_text(app: WsinspectApp) -> str:
    """What the detail pane (below the list) draws."""
    text = screen_text(app)
    return text[text.index(" Findings  Request  Response") :]


def rows(app: WsinspectApp) -> list[str]:
    """The URLs of the rows the list draws, top to bottom."""
    return [line.split()[2] for line in list_text(app).splitlines()[1:] if "ws://" in line]


def path(url: str) -> str:
    return url.rsplit("/", 1)[1]


# -- keys ------------------------------------------------------------------------------------


async def test_slash_opens_the_filter_and_escape_closes_it(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        await settle(pilot)
        assert "filter: URL, Origin" in screen_text(app)
        await pilot.press(*"chat")
        await settle(pilot)
        assert [path(url) for url in rows(app)] == ["chat"]
        await pilot.press(*["backspace"] * 4, "escape")
        await settle(pilot)
        assert "filter: URL, Origin" not in screen_text(app)
        assert [path(url) for url in rows(app)] == ["live", "chat"]


async def test_x_shows_failures_only_and_again_shows_all(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("x")
        await settle(pilot)
        assert [path(url) for url in rows(app)] == ["chat"]
        assert "Showing failures and warnings only" in screen_text(app)
        await pilot.press("x")
        await settle(pilot)
        assert [path(url) for url in rows(app)] == ["live", "chat"]


async def test_c_copies_the_fix_drawn_for_the_selected_row(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("c")
        await settle(pilot)
        assert 'origins=["http://evil.test"]' in app.clipboard
        assert app.clipboard.strip().splitlines()[1] in detail_text(app)  # the fix shown
        assert "Fix copied to the clipboard" in screen_text(app)


async def test_s_asks_where_and_saves_in_the_format_of_the_extension(
    traffic: Traffic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)  # short names to type
    app = opened(traffic)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        for name in ("saved.json", "saved.har", "saved.mitm", "saved.md"):
            await pilot.press("s")
            await settle(pilot)
            assert "Save to (.json session, .har HTTP Archive" in screen_text(app)
            assert "wsinspect-session.json" in screen_text(app)  # the proposed name
            await pilot.press("ctrl+u")
            await paste(pilot, name)
            await pilot.press("enter")
            await settle(pilot)
            assert f"Saved 2 handshakes to {name}" in screen_text(app)
    for name in ("saved.json", "saved.har", "saved.mitm"):
        assert [h.status for h in load(tmp_path / name)] == [101, 403], name
    assert len(json.loads((tmp_path / "saved.har").read_text())["log"]["entries"]) == 2
    report = (tmp_path / "saved.md").read_text()
    assert "origin-rejected" in report and SECRET not in report


async def test_p_pauses_the_drawn_list_while_capturing_goes_on():
    app = live()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.proxy is not None)
        async with serve(echo, "127.0.0.1", 0) as server:
            base = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
            await through(app.proxy.port, f"{base}/before", ALLOWED)
            await until(lambda: rows(app) == [f"{base}/before"])
            await pilot.press("p")
            await through(app.proxy.port, f"{base}/during", ALLOWED)
            await until(lambda: len(app.session) == 2)
            await pilot.pause(0.3)  # three pulls of the list
            assert rows(app) == [f"{base}/before"]
            assert "PAUSED" in screen_text(app).splitlines()[0]
            await pilot.press("p")
            await until(lambda: rows(app) == [f"{base}/before", f"{base}/during"])
            assert "PAUSED" not in screen_text(app).splitlines()[0]
        await app.stop_proxy()


async def test_f_jumps_to_the_newest_row_and_follows(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("home")
        await settle(pilot)
        assert "OK  " in detail_text(app) and "/live" in detail_text(app)
        await pilot.press("f")
        await settle(pilot)
        assert "ERROR  ws://" in detail_text(app) and "/chat" in detail_text(app)


async def test_t_probes_the_server_and_the_probe_tab_shows_it(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await until(lambda: "5 handshakes, each closed at once" in screen_text(app), timeout=10)
        await settle(pilot)
        shown = detail_text(app)
        assert f"Probe of ws://127.0.0.1:{traffic.port}/chat" in shown
        assert "null Origin     null" in shown
        assert "refuses every Origin tried" in shown
        assert "not sent: Cookie" in shown


async def test_number_keys_draw_their_tab_for_the_selected_row(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE) as pilot:
        for key, expected in (
            ("2", "Cookie: [redacted]"),
            ("3", "HTTP/1.1 403 Forbidden"),
            ("4", "No WebSocket: the handshake was not upgraded."),
            ("5", "Press t to probe this endpoint"),
            ("1", "1. [error] origin-rejected: Origin http://evil.test refused"),
        ):
            await pilot.press(key)
            await settle(pilot)
            assert expected in detail_text(app), key


async def test_4_draws_the_messages_of_an_upgraded_row(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("home", "4")
        await settle(pilot)
        shown = detail_text(app)
        assert "client → server: 1 messages" in shown
        assert "hello" in shown and "closed by the client: 1000" in shown


async def test_r_shows_and_hides_secrets_on_screen(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot)
        assert SECRET not in screen_text(app)
        await pilot.press("r")
        await settle(pilot)
        assert f"Cookie: sid={SECRET}" in detail_text(app)


async def test_ctrl_l_clears_the_drawn_list(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert rows(app) == []
        assert "0 handshakes" in screen_text(app).splitlines()[0]
        assert "Select a handshake." in detail_text(app)


async def test_n_listens_on_a_free_port_when_the_asked_one_is_taken():
    with taken_port() as port:
        app = WsinspectApp(live=LiveOptions(proxy=ProxyConfig(port=port)))
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: "Press n" in screen_text(app).splitlines()[0])
            await pilot.press("n")
            await until(lambda: "proxy 127.0.0.1:" in screen_text(app).splitlines()[0])
            assert f"proxy 127.0.0.1:{port} " not in screen_text(app)
            await app.stop_proxy()


async def test_question_mark_lists_the_keys_and_f1_closes_them(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await settle(pilot)
        for line in ("^l Clear", "n Free port", "r Redact", "x Failures only", "1 Findings"):
            assert line in screen_text(app), line
        await pilot.press("f1")
        await settle(pilot)
        assert "n Free port" not in screen_text(app)
        await pilot.press("f1")
        await settle(pilot)
        assert "n Free port" in screen_text(app)


async def capture_one_then_quit(
    saved: Path, quit: Callable[[Pilot], Awaitable[None]]
) -> tuple[WsinspectApp, str]:
    """A live dashboard saving to ``saved`` captures one handshake, then ``quit`` ends it."""
    app = WsinspectApp(live=LiveOptions(proxy=ProxyConfig(port=0), save=saved, save_every=60))
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.proxy is not None)
        async with serve(echo, "127.0.0.1", 0) as server:
            url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/bye"
            await through(app.proxy.port, url, ALLOWED)
            await until(lambda: rows(app) == [url])
        await quit(pilot)
        await until(lambda: app.return_code is not None)
    return app, url


async def test_q_quits_and_saves_what_was_captured(tmp_path: Path):
    saved = tmp_path / "quit.json"
    app, url = await capture_one_then_quit(saved, lambda pilot: pilot.press("q"))
    assert app.return_code == 0
    assert [h.url for h in load(saved)] == [url]


# -- the command palette ---------------------------------------------------------------------


async def test_palette_filter_opens_the_filter(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE) as pilot:
        await palette(pilot, "Filter")
        assert "filter: URL, Origin" in screen_text(app)
        await pilot.press(*"live")
        await settle(pilot)
        assert [path(url) for url in rows(app)] == ["live"]


async def test_palette_failures_only(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE) as pilot:
        await palette(pilot, "Failures only")
        assert [path(url) for url in rows(app)] == ["chat"]


async def test_palette_copy_fix(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await palette(pilot, "Copy fix")
        assert 'origins=["http://evil.test"]' in app.clipboard
        assert "Fix copied to the clipboard" in screen_text(app)


@pytest.mark.parametrize(
    ("command", "cookie_sent"), [("Probe", False), ("Probe with credentials", True)]
)
async def test_palette_probes(traffic: Traffic, command: str, cookie_sent: bool):
    app = opened(traffic)
    async with app.run_test(size=SIZE) as pilot:
        await palette(pilot, command)
        await until(lambda: "5 handshakes, each closed at once" in screen_text(app), timeout=10)
        await settle(pilot)
        assert f"Probe of ws://127.0.0.1:{traffic.port}/chat" in detail_text(app)
        assert ("not sent: Cookie" in detail_text(app)) is not cookie_sent


async def test_palette_save_session(
    traffic: Traffic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    app = opened(traffic)
    target = tmp_path / "palette.har"
    async with app.run_test(size=SIZE) as pilot:
        await palette(pilot, "Save session")
        assert "Save to (.json session" in screen_text(app)
        await pilot.press("ctrl+u")
        await paste(pilot, target.name)
        await pilot.press("enter")
        await settle(pilot)
    assert [h.status for h in load(target)] == [101, 403]


async def test_palette_follow(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("home")
        await palette(pilot, "Follow")
        assert "ERROR  ws://" in detail_text(app) and "/chat" in detail_text(app)


async def test_palette_pause_and_resume(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await palette(pilot, "Pause / resume")
        assert "PAUSED" in screen_text(app).splitlines()[0]
        assert "Paused: capturing continues, the list waits" in screen_text(app)
        await palette(pilot, "Pause / resume")
        assert "PAUSED" not in screen_text(app).splitlines()[0]


async def test_palette_toggle_redaction(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await palette(pilot, "Toggle redaction")
        assert f"Cookie: sid={SECRET}" in detail_text(app)


async def test_palette_clear(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE) as pilot:
        await palette(pilot, "Clear")
        assert rows(app) == []
        assert "0 handshakes" in screen_text(app).splitlines()[0]


async def test_palette_keys_shows_the_keys(traffic: Traffic):
    app = opened(traffic)
    async with app.run_test(size=SIZE) as pilot:
        await palette(pilot, "Keys")
        assert "^l Clear" in screen_text(app) and "n Free port" in screen_text(app)


async def test_palette_quit_saves_as_q_does(tmp_path: Path):
    saved = tmp_path / "quit.json"
    _, url = await capture_one_then_quit(saved, lambda pilot: palette(pilot, "Quit"))
    assert [h.url for h in load(saved)] == [url]


async def test_palette_offers_a_browser_only_behind_a_proxy_of_its_own(traffic: Traffic):
    """Listed, not run: running it starts a real browser (tests/test_browser.py does)."""
    for app in (live(), opened(traffic)):
        async with app.run_test(size=SIZE) as pilot:
            if app.live is not None:
                await until(lambda: app.proxy is not None)  # noqa: B023 (awaited here)
            await search_palette(pilot, "browser")
            await pilot.pause(0.3)  # past the palette's "no matches" countdown
            listed = "Open a browser through this proxy" in screen_text(app)
            assert listed is (app.live is not None)
            if app.proxy is not None:
                await app.stop_proxy()
