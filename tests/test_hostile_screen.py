"""Captured text that is Rich/Textual markup or terminal escapes, through every view of the
dashboard: it must be drawn as the characters it is, and clicking it must do nothing.

What is checked is what the screen draws (the compositor's lines), not what a widget holds: in
markup, ``[@click=app.quit]`` becomes a click action on the drawn cells and ``[link=…]`` a live
link, both visible as meta data on the drawn segments.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input
from websockets.asyncio.server import serve

from tests.conftest import until
from tests.servers import free_port
from tests.test_diagnose_wire import attempt, upgraded
from tests.test_tui import SIZE, drawn, screen_text
from wsinspect.model import Close, Message, Session
from wsinspect.tui.app import LiveOptions, WsinspectApp
from wsinspect.tui.widgets.handshake_list import HandshakeList

QUIT = "[@click=app.quit]Bye[/]"
LINK = "[link=http://evil.test]Evil[/link]"
STYLED = "[reverse]Rev[/reverse] [bold red]Bold"
ESCAPES = "\x1b]8;;http://evil.test\x1b\\osc\x1b]8;;\x1b\\ \x1b[2J\x07"
HOSTILE = f"{QUIT} {LINK} {STYLED}"


def screenshot_markup(directory: Path) -> str:
    """A click on "Shot" would write an SVG into ``directory`` (as reported in issue 13)."""
    return f"[@click=app.screenshot('shot.svg','{directory}')]Shot[/]"


def assert_literal(app: WsinspectApp, *expected: str) -> None:
    """Nothing drawn is an action or a link, no escape reaches the terminal, and the markup
    shows as the text it is."""
    actions = {
        (segment.text, str(segment.style.meta), segment.style.link)
        for strip in drawn(app)
        for segment in strip
        if segment.style
        and (segment.style.link or "@click" in segment.style.meta)
        and segment.text.strip()
    }
    assert not actions, f"captured text drawn as actions or links: {actions}"
    text = screen_text(app)
    assert "\x1b" not in text and "\x07" not in text
    for piece in expected:
        assert piece in text, f"{piece!r} not drawn:\n{text}"


def hostile_session(port: int, dead_port: int, directory: Path) -> Session:
    """A refused handshake and an upgraded one, carrying markup wherever a peer chooses text."""
    refused = attempt(
        403,
        [("Content-Type", "text/plain"), ("X-Note", f"{LINK} {ESCAPES}")],
        f"{screenshot_markup(directory)} {HOSTILE} {ESCAPES}\n",
        url=f"ws://127.0.0.1:{port}/{QUIT}\x1b[2J",  # quoted by fixes too
        origin=f"http://{STYLED}.test",
        extra=[("X-Client", HOSTILE)],
    )
    refused.id = "refused"
    messages = [
        Message.of("client", 1.0, 1, 40, f"{HOSTILE} {ESCAPES}".encode()),
        Message.of("server", 2.0, 1, 12, LINK.encode()),
    ]
    upgraded_ = attempt(
        101,
        upgraded(),
        url=f"ws://127.0.0.1:{dead_port}/live{ESCAPES}",
        close=Close(4000, f"{QUIT} {ESCAPES}", "server"),
    )
    upgraded_.id = "upgraded"
    upgraded_.started = 1.0
    upgraded_.websocket.messages = deque(messages)
    session = Session(created=0.0)
    session.add(refused)
    session.add(upgraded_)
    return session


async def click_every(pilot: Pilot, app: WsinspectApp, word: str) -> None:
    """Click the first cell of every place ``word`` is drawn."""
    for y, strip in enumerate(drawn(app)):
        x = strip.text.find(word)
        if x >= 0:
            await pilot.click(offset=(x, y))
            await pilot.pause()


async def test_markup_and_escapes_are_drawn_as_text_in_every_view(tmp_path, monkeypatch):
    shots = tmp_path / "shots"
    shots.mkdir()

    async def refuse(connection, request):
        return connection.respond(403, f"{HOSTILE}\n")

    async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0, process_request=refuse) as s:
        port = s.sockets[0].getsockname()[1]
        app = WsinspectApp(session=hostile_session(port, free_port(), shots))
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await pilot.press("home")  # the refused one
            await pilot.pause()
            assert_literal(app, "/[@click=", "[@click=app.screenshot(", "[reverse]Rev[/reverse]")
            await click_every(pilot, app, "Shot")
            await click_every(pilot, app, "Bye")
            for tab, expected in (
                ("2", ("X-Client: [@click=app.quit]Bye[/] [link=http://evil.test]Evil[/link]",)),
                ("3", ("X-Note: [link=http://evil.test]Evil[/link] \\x1b]8;;", "[bold red]Bold")),
                ("4", ()),
                ("1", ("Origin", "[reverse]Rev[/reverse]")),
            ):
                await pilot.press(tab)
                await pilot.pause()
                assert_literal(app, *expected)
                await click_every(pilot, app, "Shot")
                await click_every(pilot, app, "Evil")

            await pilot.press("t")  # a probe of the real server, and its toast
            await until(lambda: "see the Probe tab" in screen_text(app), timeout=10)
            assert_literal(
                app,
                "http://[reverse]Rev[/reverse] [bold red]Bold.test",
                "/[@click=app.quit]Bye[/]\\x1b[2J:",  # the toast
            )

            await pilot.click(HandshakeList, offset=(2, 2))  # the upgraded one
            await pilot.press("4")  # its messages and the close reason
            await pilot.pause()
            assert_literal(app, "“[@click=app.quit]Bye[/] \\x1b]8;;", "[link=http://evil.test]")
            await click_every(pilot, app, "Bye")
            await pilot.press("t")  # unreachable: the error toast quotes the URL
            await until(lambda: "cannot reach" in screen_text(app), timeout=10)
            assert_literal(app, "live\\x1b]8;;")

            await pilot.press("s")  # a save path that cannot be written, named in a toast
            await pilot.pause()
            monkeypatch.chdir(tmp_path)
            app.screen.query_one("#save-path", Input).value = f"no/{QUIT}.json"
            await pilot.press("enter")
            await until(lambda: "cannot write" in screen_text(app))
            assert_literal(app, "cannot write no/[@click=app.quit]Bye[/].json")
            await click_every(pilot, app, "Bye")

            assert app.return_code is None, "a click on captured text quit the dashboard"
        assert list(shots.iterdir()) == [], "a click on captured text wrote a screenshot"


async def test_status_line_shows_a_socket_path_as_text(tmp_path):
    socket_path = tmp_path / "[link=evil.test]Evil[/link]" / "f.sock"
    app = WsinspectApp(live=LiveOptions(attach=socket_path))
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.proxy is not None)
        await pilot.pause()
        assert_literal(app, "/[link=evil.test]Evil[/link]/f.sock")
        await app.stop_proxy()
