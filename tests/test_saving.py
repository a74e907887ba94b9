"""Saving from the dashboard never holds the proxy up (issue 14): what was captured when the user
pressed ``s`` is written by a worker thread while capture goes on, and quitting waits for it.

The disk is made slow on purpose (a write waits until the test lets it go): a save of 5,000
handshakes takes seconds, and a network drive or a full one can take as long for a few.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

import wsinspect.sessions
from tests.conftest import until
from tests.test_tui import screen_text
from wsinspect.capture.proxy import ProxyConfig
from wsinspect.sessions import load
from wsinspect.tui.app import LiveOptions, WsinspectApp

SIZE = (120, 40)
STUCK = 10.0  # seconds a write waits for the disk at most (the old synchronous save: then on)


@pytest.fixture
def slow_disk(monkeypatch: pytest.MonkeyPatch) -> Iterable[threading.Event]:
    """Every session file write waits for the returned event to be set (or ``STUCK`` s)."""
    disk = threading.Event()
    write = wsinspect.sessions.write_atomic

    def slow_write(path: Path, data: bytes | Iterable[bytes]) -> None:
        disk.wait(STUCK)
        write(path, data)

    monkeypatch.setattr(wsinspect.sessions, "write_atomic", slow_write)
    yield disk
    disk.set()  # no worker thread left waiting


@asynccontextmanager
async def dashboard() -> AsyncIterator[tuple[WsinspectApp, Pilot, Callable]]:
    """A live dashboard, and a way to make refused handshakes through its proxy."""
    app = WsinspectApp(live=LiveOptions(proxy=ProxyConfig(port=0)))
    refuses = serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0, origins=[Origin("http://a.test")])
    async with app.run_test(size=SIZE, notifications=True) as pilot, refuses as server:
        port = server.sockets[0].getsockname()[1]

        async def refused(*paths: str) -> None:
            for path in paths:
                try:
                    async with connect(
                        f"ws://127.0.0.1:{port}/{path}",
                        proxy=f"http://127.0.0.1:{app.proxy.port}",
                        origin=Origin("http://evil.test"),
                        open_timeout=STUCK / 2,
                    ):
                        pass
                except InvalidStatus:
                    pass

        await until(lambda: app.proxy is not None, timeout=20)
        yield app, pilot, refused


async def save_as(pilot: Pilot, target: Path) -> None:
    await pilot.press("s")
    await until(lambda: pilot.app.screen.query("#save-path"))
    pilot.app.screen.query_one("#save-path", Input).value = str(target)
    await pilot.press("enter")


def paths(app_or_file: WsinspectApp | Path) -> list[str]:
    if isinstance(app_or_file, Path):
        handshakes = list(load(app_or_file))
    else:
        handshakes = app_or_file.handshake_list.listed()
    return [urlsplit(h.url).path for h in handshakes]


async def test_the_proxy_captures_while_a_save_is_written_and_the_file_holds_what_was_asked(
    slow_disk: threading.Event, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)  # a name short enough for the toast to hold on one line
    target = Path("saved.json")
    async with dashboard() as (app, pilot, refused):
        await refused("before-1", "before-2")
        await until(lambda: app.handshake_list.listed_count == 2)
        await save_as(pilot, target)
        await refused("during-1", "during-2")  # while the disk is slow
        await until(lambda: app.handshake_list.listed_count == 4)
        assert not target.exists()  # the proxy relayed and the list grew before the file
        slow_disk.set()
        await until(lambda: "Saved 2 handshakes to saved.json" in screen_text(app), timeout=10)
        assert paths(target) == ["/before-1", "/before-2"]
        assert paths(app) == ["/before-1", "/before-2", "/during-1", "/during-2"]
        await app.stop_proxy()


async def test_quitting_waits_for_a_save_under_way(slow_disk: threading.Event, tmp_path: Path):
    target = tmp_path / "saved.json"
    async with dashboard() as (app, pilot, refused):
        await refused("captured")
        await until(lambda: app.handshake_list.listed_count == 1)
        await save_as(pilot, target)
        app.post_message(events.Key("q", "q"))  # (pilot.press would wait for the quit)
        await pilot.pause(0.3)
        assert app.return_code is None  # still running: the file is not written yet
        slow_disk.set()
        await until(lambda: app.return_code is not None, timeout=10)
    assert paths(target) == ["/captured"]
