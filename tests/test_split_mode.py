"""Split mode: the addon inside a real `mitmdump -s`, feeding a session file and a dashboard."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

import wsinspect
from tests.conftest import require_program, until
from tests.helpers import run_cli
from tests.servers import free_port, wait_for_port
from wsinspect.capture.feed import FeedReceiver, FeedUpdate
from wsinspect.diagnose import diagnosis_of
from wsinspect.model import Session, encoder
from wsinspect.sessions import load
from wsinspect.tui.app import LiveOptions, WsinspectApp
from wsinspect.tui.widgets.handshake_list import HandshakeList

ALLOWED = Origin("http://app.example")


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
    # The script imports wsinspect: this one, not another copy installed elsewhere.
    here = str(Path(wsinspect.__file__).parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])),
    }
    process = await asyncio.create_subprocess_exec(*arguments, env=env)
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
            await connect(url, proxy=proxy, origin=Origin("http://localhost:5173"), open_timeout=10)
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
    assert refused.status == 403 and diagnosis_of(refused).findings[0].code == "origin-rejected"
    assert accepted.status == 101 and diagnosis_of(accepted).verdict == "ok"
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
            await until(lambda: listing.listed_count == 2, timeout=15)
            refused, accepted = listing.listed()
            await until(lambda: accepted.websocket is not None and accepted.websocket.close)
        await pilot.pause()
        assert diagnosis_of(refused).findings[0].code == "origin-rejected"
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
    import os
    import shutil
    import subprocess
    import tempfile

    from tests.conftest import require
    from tests.test_tui import sample_session

    setpriv = shutil.which("setpriv")
    require("root and setpriv", os.getuid() == 0 and setpriv is not None, "run the suite as root")
    folder = Path(tempfile.mkdtemp(prefix="wsinspect-feed-"))
    path = folder / "feed.sock"
    session = Session(created=0.0)
    receiver = FeedReceiver(path, session, lambda h: None)
    await receiver.start()
    folder.chmod(0o755)  # loosened after the start
    path.chmod(0o666)
    update = FeedUpdate(next(iter(sample_session())))
    line = encoder().encode(update).decode() + "\n"
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


# -- another user on the same machine ------------------------------------------------------------

NOBODY = 65534

# A listener run as `nobody`: makes the socket's folder (open to all) and says what it gets.
LISTENER = """
import os, socket, sys
path = sys.argv[1]
os.makedirs(os.path.dirname(path), exist_ok=True)
os.chmod(os.path.dirname(path), 0o777)
server = socket.socket(socket.AF_UNIX)
server.bind(path)
os.chmod(path, 0o777)
server.listen()
print("ready", flush=True)
while True:
    connection, _ = server.accept()
    print("connected", flush=True)
    while chunk := connection.recv(65536):
        print("bytes", len(chunk), flush=True)
    print("closed", flush=True)
"""


@asynccontextmanager
async def listening_as_nobody(path: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """Another local user's process listening at ``path``, for as long as the block runs."""
    import os
    import shutil

    from tests.conftest import require

    setpriv = shutil.which("setpriv")
    require("root and setpriv", os.getuid() == 0 and setpriv is not None, "run the suite as root")
    assert setpriv is not None
    process = await asyncio.create_subprocess_exec(
        *[setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"],
        *["/usr/bin/python3", "-c", LISTENER, str(path)],
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        assert await asyncio.wait_for(process.stdout.readline(), 20) == b"ready\n"
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def heard(listener: asyncio.subprocess.Process) -> list[str]:
    """What the listener reported, once it has been stopped."""
    listener.kill()
    await listener.wait()
    assert listener.stdout is not None
    return (await listener.stdout.read()).decode().split()


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A fresh stand-in for /tmp: every user may create in it, sticky like the real one."""
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="wsinspect-shared-"))
    base.chmod(0o755)
    shared = base / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    yield shared
    shutil.rmtree(base)


async def test_the_addon_sends_nothing_to_a_socket_folder_another_user_made_first(shared_tmp):
    """XDG_RUNTIME_DIR unset: the default socket is under $TMPDIR, where `nobody` got first."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env["TMPDIR"] = str(shared_tmp)
    planted = shared_tmp / f"wsinspect-{os.getuid()}" / "feed.sock"
    mitmdump = require_program("mitmdump", "pip install mitmproxy")
    code, out, _ = await run_cli("addon-path")
    assert code == 0
    port = free_port()
    async with listening_as_nobody(planted) as listener:
        process = await asyncio.create_subprocess_exec(
            *[mitmdump, "--listen-host", "127.0.0.1", "-p", str(port), "-s", out.strip()],
            *["--set", "flow_detail=0"],
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert process.stdout is not None
        try:
            await wait_for_port(port, "mitmdump", timeout=30)
            await browse(f"http://127.0.0.1:{port}")
            await asyncio.sleep(1.5)  # the sender tries again every second
        finally:
            process.send_signal(signal.SIGINT)
            log = (await asyncio.wait_for(process.communicate(), 30))[0].decode()
        reports = await heard(listener)
    assert "bytes" not in reports and "connected" not in reports
    (line,) = [line for line in log.splitlines() if "not feeding" in line]  # said once
    assert f"not feeding the dashboard at {planted}" in line
    assert "belongs to nobody (uid 65534), not to you; nothing was sent" in line


async def test_the_dashboard_refuses_a_socket_folder_that_is_not_its_own(shared_tmp):
    planted = shared_tmp / "wsinspect-0" / "feed.sock"
    async with listening_as_nobody(planted):
        receiver = FeedReceiver(planted, Session(created=0.0), lambda h: None)
        with pytest.raises(Exception, match=r"belongs to nobody \(uid 65534\), not to you"):
            await receiver.start()
    assert planted.parent.stat().st_mode & 0o777 == 0o777  # not chmod-ed, not taken over


async def test_a_symlinked_socket_folder_is_refused_by_both_ends(tmp_path, caplog):
    from wsinspect.capture.feed import FeedSender

    (tmp_path / "elsewhere").mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    path = tmp_path / "link" / "feed.sock"
    with pytest.raises(Exception, match="is a symbolic link"):
        await FeedReceiver(path, Session(created=0.0), lambda h: None).start()
    sender = FeedSender(path)
    sender.start()
    try:
        await until(lambda: sender.refusal is not None)
    finally:
        await sender.stop()
    assert f"not feeding the dashboard at {path}: {tmp_path / 'link'} is a symbolic link" in (
        caplog.text
    )


async def test_the_addon_asks_who_listens_before_sending_a_byte(tmp_path, shared_tmp, caplog):
    """A socket of another user's, moved into our own private folder: the kernel tells."""
    import os

    from wsinspect.capture.feed import FeedSender
    from wsinspect.model import Handshake

    theirs = shared_tmp / "theirs" / "feed.sock"
    ours = tmp_path / "feed.sock"
    async with listening_as_nobody(theirs) as listener:
        os.rename(theirs, ours)  # a bound socket keeps listening under its new name
        sender = FeedSender(ours)
        sender.handshake_answered(Handshake(id="h", started=0.0, url="ws://a/?token=secret"))
        sender.start()
        assert listener.stdout is not None
        try:
            reports = [await asyncio.wait_for(listener.stdout.readline(), 10) for _ in "ab"]
        finally:
            await sender.stop()
    assert reports == [b"connected\n", b"closed\n"]  # and not one byte in between
    assert "the process listening there runs as nobody (uid 65534), not as you" in caplog.text


async def test_a_wss_server_that_never_answers_is_recorded_though_mitmproxy_defaults_to_eager(
    tmp_path,
):
    """mitmproxy's default strategy connects to the server first: a wss:// server that accepts
    TCP and stays silent would hang that TLS handshake, and the attempt would never be seen."""

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts, reads, never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    target = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    saved = tmp_path / "split.json"
    settings = (f"wsinspect_save={saved}", "wsinspect_feed=", "wsinspect_answer_timeout=1")
    try:
        async with mitmdump_with_addon(*settings) as proxy:
            reader, writer = await asyncio.open_connection(*proxy[7:].split(":"))
            writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            assert b" 200 " in await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            tls = ssl.create_default_context()
            tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE  # the proxy's own cert
            await asyncio.wait_for(writer.start_tls(tls, server_hostname="127.0.0.1"), 10)
            writer.write(
                f"GET /live HTTP/1.1\r\nHost: {target}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            await asyncio.sleep(1.5)  # past the answer timeout
            writer.close()
    finally:
        server.close()
    [attempt] = load(saved)
    assert attempt.url == f"wss://{target}/live"
    assert "no answer within 1 s" in (attempt.error or "")
    assert diagnosis_of(attempt).verdict != "ok"
