"""Split mode: the addon inside a real `mitmdump -s`, feeding a session file and a dashboard."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus

from tests.conftest import require_program, until
from tests.helpers import run_cli
from tests.servers import free_port, wait_for_port
from wsinspect.capture.feed import FeedReceiver
from wsinspect.model import Session
from wsinspect.sessions import load
from wsinspect.tui.app import LiveOptions, WsinspectApp
from wsinspect.tui.widgets.handshake_list import HandshakeList

ALLOWED = "http://app.example"


@asynccontextmanager
async def mitmdump_with_addon(*settings: str) -> AsyncIterator[str]:
    """Yield the proxy URL of a running `mitmdump -s "$(wsinspect addon-path)" --set ...`."""
    mitmdump = require_program("mitmdump", "pip install mitmproxy")
    code, out, _ = await run_cli("addon-path")
    assert code == 0 and Path(out.strip()).is_file()
    port = free_port()
    arguments = [mitmdump, "-q", "--listen-host", "127.0.0.1", "-p", str(port), "-s", out.strip()]
    for setting in settings:
        arguments += ["--set", setting]
    process = await asyncio.create_subprocess_exec(*arguments)
    try:
        await wait_for_port(port, "mitmdump", timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 30)


async def browse(proxy: str) -> None:
    """One refused handshake and one echo, through the proxy."""

    async def echo(ws) -> None:
        async for message in ws:
            await ws.send(message)

    server = await serve(echo, "127.0.0.1", 0, origins=[ALLOWED])
    url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/live"
    try:
        with pytest.raises(InvalidStatus):
            await connect(url, proxy=proxy, origin="http://localhost:5173", open_timeout=10)
        async with connect(url, proxy=proxy, origin=ALLOWED, open_timeout=10) as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
    finally:
        server.close()


async def test_the_addon_writes_a_diagnosed_session_file(tmp_path):
    saved = tmp_path / "split.json"
    async with mitmdump_with_addon(f"wsinspect_save={saved}", "wsinspect_feed=") as proxy:
        await browse(proxy)
        await asyncio.sleep(0.3)
    refused, accepted = load(saved)
    assert refused.status == 403 and refused.findings[0].code == "origin-rejected"
    assert accepted.status == 101 and accepted.verdict == "ok"
    assert accepted.websocket is not None and accepted.websocket.counts.client_messages == 1
    assert accepted.websocket.close is not None and accepted.websocket.close.code == 1000
    assert saved.stat().st_mode & 0o777 == 0o600


async def test_the_addon_feeds_a_dashboard_over_a_unix_socket(tmp_path):
    socket = tmp_path / "feed.sock"
    app = WsinspectApp(live=LiveOptions(attach=socket))
    async with app.run_test(size=(160, 45)) as pilot:
        await until(lambda: socket.exists())
        assert socket.stat().st_mode & 0o777 == 0o600  # nobody else can feed it
        async with mitmdump_with_addon(f"wsinspect_feed={socket}") as proxy:
            await browse(proxy)
            listing = app.query_one(HandshakeList)
            await until(lambda: listing.visible_count == 2, timeout=15)
            refused, accepted = listing.visible()
            await until(lambda: accepted.websocket is not None and accepted.websocket.close)
        await pilot.pause()
        assert refused.findings[0].code == "origin-rejected"
        assert accepted.websocket.counts.client_messages == 1


async def test_a_second_dashboard_on_the_same_socket_is_refused(tmp_path):
    socket = tmp_path / "feed.sock"
    first = FeedReceiver(socket, Session(created=0.0), lambda h: None)
    await first.start()
    try:
        with pytest.raises(Exception, match="another dashboard is attached"):
            await FeedReceiver(socket, Session(created=0.0), lambda h: None).start()
    finally:
        await first.stop()
    assert not socket.exists()


async def test_the_feed_takes_lines_from_this_user_only():
    """Even with the socket's mode loosened, a peer running as another user is refused."""
    import json
    import os
    import shutil
    import subprocess
    import tempfile

    from tests.conftest import require
    from tests.test_tui import sample_session

    setpriv = shutil.which("setpriv")
    require("root and setpriv", os.getuid() == 0 and setpriv is not None, "run the suite as root")
    folder = Path(tempfile.mkdtemp(prefix="wsinspect-feed-"))
    folder.chmod(0o755)
    path = folder / "feed.sock"
    session = Session(created=0.0)
    receiver = FeedReceiver(path, session, lambda h: None)
    await receiver.start()
    path.chmod(0o666)
    line = json.dumps(next(iter(sample_session())).to_dict()) + "\n"
    send = (
        "import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
        "s.sendall(sys.argv[2].encode()); s.close()"
    )
    try:
        nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3"]
        subprocess.run([*nobody, "-c", send, str(path), line], check=True, timeout=20)
        await until(lambda: receiver.refused == 1)
        assert len(session) == 0
        subprocess.run(["/usr/bin/python3", "-c", send, str(path), line], check=True, timeout=20)
        await until(lambda: len(session) == 1)
    finally:
        await receiver.stop()
        shutil.rmtree(folder)


async def test_a_dashboard_that_falls_behind_costs_updates_counted_never_a_wait(tmp_path):
    from wsinspect.capture.feed import FeedSender
    from wsinspect.model import Handshake

    path = tmp_path / "feed.sock"
    sender = FeedSender(path, backlog=10)
    sender.start()
    for number in range(100):  # no dashboard yet: the first ten wait, ninety are dropped
        sender.handshake_answered(Handshake(id=f"h{number}", started=0.0, url="ws://a/"))
    assert sender.dropped == 90
    session = Session(created=0.0)
    receiver = FeedReceiver(path, session, lambda h: None)
    await receiver.start()
    try:
        await until(lambda: len(session) == 10, timeout=10)  # the ten that waited
        sender.handshake_answered(Handshake(id="late", started=0.0, url="ws://a/"))
        await until(lambda: len(session) == 11, timeout=10)
        assert receiver.dropped == 90  # what the dashboard's status line shows
    finally:
        await sender.stop()
        await receiver.stop()
