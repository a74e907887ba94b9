"""The one capture service: what `record`, `watch`, `watch --attach` and split mode share."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.conftest import until
from tests.test_capture import echo, port_of
from wsinspect.capture.feed import FeedSender
from wsinspect.capture.proxy import ProxyConfig
from wsinspect.capture.service import Capture
from wsinspect.model import Handshake

PACKAGE = Path(__file__).resolve().parent.parent / "wsinspect"
ALLOWED = Origin("http://app.example")

# What a capture is made of: built in capture/service.py only, so there is one way to wire one.
PARTS = {"Recorder", "EmbeddedProxy", "FeedReceiver"}
# A mitmproxy flow file is read by replaying its flows through a recorder: a conversion.
CONVERSIONS = {("sessions/mitmflows.py", "Recorder")}


class Told:
    """A sink that remembers what it was told."""

    def __init__(self) -> None:
        self.answered: list[str] = []
        self.closed: list[str] = []

    def handshake_answered(self, handshake: Handshake) -> None:
        self.answered.append(handshake.id)

    def websocket_closed(self, handshake: Handshake) -> None:
        self.closed.append(handshake.id)


async def echo_through(proxy_port: int, server_port: int) -> None:
    url = f"ws://127.0.0.1:{server_port}/chat"
    async with connect(url, proxy=f"http://127.0.0.1:{proxy_port}", origin=ALLOWED) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"


async def refused_through(proxy_port: int, server_port: int) -> None:
    url = f"ws://127.0.0.1:{server_port}/chat"
    with pytest.raises(InvalidStatus):
        await connect(
            url, proxy=f"http://127.0.0.1:{proxy_port}", origin=Origin("http://evil.example")
        )


def built_parts(path: Path) -> list[tuple[int, str]]:
    """Where ``path`` builds (or subclasses) a part of a capture."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        called = [node.func] if isinstance(node, ast.Call) else []
        bases = node.bases if isinstance(node, ast.ClassDef) else []
        for name in [*called, *bases]:
            word = name.id if isinstance(name, ast.Name) else getattr(name, "attr", None)
            if word in PARTS:
                found.append((name.lineno, word))
    return found


def test_captures_are_wired_in_one_place():
    """record, the dashboard and split mode each once built their own proxy and recorder."""
    elsewhere = [
        f"wsinspect/{where}:{line} builds its own {part}: use capture.service.Capture"
        for path in sorted(PACKAGE.rglob("*.py"))
        if (where := path.relative_to(PACKAGE).as_posix()) != "capture/service.py"
        for line, part in built_parts(path)
        if (where, part) not in CONVERSIONS
    ]
    assert not elsewhere, "\n".join(elsewhere)


async def test_a_sink_added_while_capturing_is_told_and_the_port_is_freed_after():
    """Split mode adds its feed once mitmproxy runs: the recorder tells it from then on."""
    told = Told()
    async with (
        serve(echo, "127.0.0.1", 0) as server,
        Capture.embedded(ProxyConfig(port=0)) as capture,
    ):
        capture.sinks.append(told)
        await echo_through(capture.port, port_of(server))
        (handshake,) = capture.session
        await until(lambda: told.closed == [handshake.id])
        assert told.answered == [handshake.id]
        port = capture.port
    async with Capture.embedded(ProxyConfig(port=port)) as again:  # as a restart would
        assert again.port == port


async def test_an_attached_capture_is_fed_by_another_and_tells_its_sinks(tmp_path):
    """The split-mode chain in one process: a capture feeding the socket, another attached."""
    path = tmp_path / "feed.sock"
    told = Told()
    sender = FeedSender(path)
    async with (
        serve(echo, "127.0.0.1", 0, origins=[ALLOWED]) as server,
        Capture.attached(path, [told]) as dashboard,
        Capture.embedded(ProxyConfig(port=0), [sender]) as addon,
    ):
        sender.start()
        try:
            await refused_through(addon.port, port_of(server))
            await echo_through(addon.port, port_of(server))
            await until(lambda: len(told.closed) == 1)  # the refusal was fed before
        finally:
            await sender.stop()
    refused, accepted = dashboard.session
    assert told.answered == [refused.id, accepted.id]  # as the addon's recorder told them
    assert told.closed == [accepted.id]
    assert refused.response is not None and refused.response.status == 403
    assert accepted.websocket is not None and accepted.websocket.close is not None
    assert accepted.websocket.close.code == 1000
    assert accepted.websocket.counts.client_messages == 1
    assert dashboard.address == str(path) and dashboard.dropped == 0
    assert not path.exists()  # stopped: the socket is gone
