"""Nothing captured is lost, and nobody downstream can slow the proxy down.

The dashboard and `record` keep their session file current while capturing, so killing them
loses at most one interval; a reader that stops reading `record`'s output costs printed lines
(counted), never proxied traffic or captured handshakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.conftest import until
from tests.helpers import start_record
from tests.servers import free_port, wait_for_port
from wsinspect.diagnose import diagnosis_of
from wsinspect.model import Session
from wsinspect.sessions import load
from wsinspect.sessions.autosave import Autosave


async def refuse_through(
    proxy_port: int, server_port: int, count: int, parallel: int = 20
) -> float:
    """``count`` refused handshakes through the proxy; how long they took, in seconds."""
    began = time.monotonic()
    queue = iter(range(count))

    async def worker() -> None:
        for number in queue:
            try:
                async with connect(
                    f"ws://127.0.0.1:{server_port}/n{number}",
                    proxy=f"http://127.0.0.1:{proxy_port}",
                    origin=Origin("http://evil.test"),
                    open_timeout=10,
                ):
                    pass
            except InvalidStatus:
                pass

    await asyncio.gather(*(worker() for _ in range(parallel)))
    return time.monotonic() - began


async def test_a_reader_that_stops_reading_record_never_slows_the_proxy(tmp_path):
    output = tmp_path / "session.json"
    unread, stdout = os.pipe()  # record's standard output, which nobody reads until the end
    async with serve(
        lambda ws: ws.wait_closed(), "127.0.0.1", 0, origins=[Origin("http://a.test")]
    ) as s:
        port = s.sockets[0].getsockname()[1]
        record = await start_record("-o", str(output), stdout=stdout)
        os.close(stdout)
        # The pipe fills after a few hundred lines; a blocking print would stall the proxy.
        took = await refuse_through(record.port, port, 1500)
        record.process.send_signal(signal.SIGINT)
        assert record.process.stderr is not None
        err = (await asyncio.wait_for(record.process.stderr.read(), 20)).decode()
        await asyncio.wait_for(record.process.wait(), 20)
    with os.fdopen(unread, "rb") as pipe:
        printed = pipe.read().count(b"\n")
    assert record.process.returncode == 0, err
    assert took < 60
    not_printed = re.search(r"(\d+) lines not printed", err)
    assert not_printed, err
    # Every line is printed or counted (bar the one being written when the reader stopped).
    assert 1499 <= printed + int(not_printed.group(1)) <= 1500
    session = load(output)
    assert len(session) == 1500  # the session has every handshake, exactly
    assert {h.status for h in session} == {403}


async def test_killed_record_loses_at_most_one_interval(tmp_path):
    output = tmp_path / "session.json"
    async with serve(
        lambda ws: ws.wait_closed(), "127.0.0.1", 0, origins=[Origin("http://a.test")]
    ) as s:
        port = s.sockets[0].getsockname()[1]
        record = await start_record("-o", str(output), "--save-every", "0.3")
        await refuse_through(record.port, port, 5)
        await until(lambda: output.exists() and len(load(output)) == 5, timeout=10)
        record.process.kill()
        await record.process.wait()
    assert len(load(output)) == 5


async def test_killed_dashboard_loses_at_most_one_interval(tmp_path):
    """The real dashboard in a terminal (a pseudo-terminal here), then SIGKILL."""
    output = tmp_path / "live.json"
    proxy_port = free_port()
    main, terminal = pty.openpty()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wsinspect",
        "watch",
        "-p",
        str(proxy_port),
        "--save",
        str(output),
        "--save-every",
        "0.3",
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"},
    )
    os.close(terminal)
    drain = asyncio.get_running_loop().run_in_executor(None, _drain, main)
    try:
        async with serve(
            lambda ws: ws.wait_closed(), "127.0.0.1", 0, origins=[Origin("http://a.test")]
        ) as server:
            port = server.sockets[0].getsockname()[1]
            await wait_for_port(proxy_port, "the dashboard's proxy", timeout=20)
            await refuse_through(proxy_port, port, 3)
            # Attempts are saved from their request on: wait until the file has all 3 answers.
            await until(lambda: output.exists() and _answered(load(output)) == 3, timeout=10)
    finally:
        process.kill()
        await process.wait()
        await drain
    session = load(output)
    assert len(session) == 3
    assert all(diagnosis_of(h).findings[0].code == "origin-rejected" for h in session)


def _answered(session) -> int:
    return sum(h.status is not None for h in session)


def _drain(fd: int) -> None:
    """Read the dashboard's screen output so that it never blocks on a full terminal."""
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


async def test_record_says_when_autosave_fails_keeps_everything_and_saves_once_it_can(tmp_path):
    """Writes fail as on a full disk (past RLIMIT_FSIZE: root is not exempt), then work again."""
    import resource

    output = tmp_path / "session.json"
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    async with serve(
        lambda ws: ws.wait_closed(), "127.0.0.1", 0, origins=[Origin("http://a.test")]
    ) as s:
        port = s.sockets[0].getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "wsinspect", "record", "-p", "0", "-o", str(output)],
            *["--save-every", "0.2"],
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (100, hard)),
        )
        assert process.stderr is not None
        try:
            banner = (await asyncio.wait_for(process.stderr.readline(), 20)).decode()
            proxy_port = int(re.search(r"listening on [\d.]+:(\d+)", banner).group(1))
            await refuse_through(proxy_port, port, 3)
            failed = (await asyncio.wait_for(process.stderr.readline(), 10)).decode()
            await refuse_through(proxy_port, port, 2)
            await asyncio.sleep(0.5)  # more attempts to save, failing, said once
            assert not output.exists()
            resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (hard, hard))  # space again
            recovered = (await asyncio.wait_for(process.stderr.readline(), 10)).decode()
            assert len(load(output)) == 5  # written by autosave, before any stop
        finally:
            process.send_signal(signal.SIGINT)
            _, rest = await asyncio.wait_for(process.communicate(), 20)
    assert failed.startswith(f"wsinspect: autosave failed: cannot write {output}: File too large")
    assert "the session is kept in memory and saving is tried again every 0.2 s" in failed
    assert recovered == f"wsinspect: autosave works again: 5 handshakes in {output}\n"
    assert "Traceback" not in rest.decode() and process.returncode == 0
    assert len(load(output)) == 5


async def test_the_dashboard_says_on_its_status_line_when_autosave_fails(tmp_path):
    """The folder of the session file replaced by a file, then put back."""
    from wsinspect.capture.proxy import ProxyConfig
    from wsinspect.tui.app import LiveOptions, WsinspectApp

    folder = tmp_path / "captures"
    folder.mkdir()
    output = folder / "live.json"
    live = LiveOptions(proxy=ProxyConfig(port=0), save=output, save_every=0.2)
    app = WsinspectApp(live=live)
    async with (
        app.run_test(size=(160, 40)),
        serve(
            lambda ws: ws.wait_closed(), "127.0.0.1", 0, origins=[Origin("http://a.test")]
        ) as server,
    ):
        await until(lambda: app.proxy is not None, timeout=20)
        folder.rmdir()
        folder.write_text("not a folder")
        await refuse_through(app.proxy.port, server.sockets[0].getsockname()[1], 3)
        await until(lambda: "autosave failed" in app.status.error, timeout=10)
        assert f"cannot write {output}" in app.status.error
        assert "the session is kept in memory" in app.status.error
        assert len(app.session) == 3
        folder.unlink()
        folder.mkdir()
        await until(lambda: output.exists() and not app.status.error, timeout=10)
        assert len(load(output)) == 3
        await app.stop_proxy()


async def test_quitting_the_dashboard_while_saves_fail_keeps_the_session_elsewhere(
    tmp_path, monkeypatch, capsys
):
    """The last save fails too: the session goes to the temporary folder; the exit says where."""
    import tempfile

    from wsinspect.capture.proxy import ProxyConfig
    from wsinspect.tui.app import LiveOptions, WsinspectApp

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = tmp_path / "captures"
    folder.mkdir()
    live = LiveOptions(proxy=ProxyConfig(port=0), save=folder / "live.json", save_every=0.2)
    app = WsinspectApp(live=live)
    async with (
        app.run_test(size=(160, 40)) as pilot,
        serve(
            lambda ws: ws.wait_closed(), "127.0.0.1", 0, origins=[Origin("http://a.test")]
        ) as server,
    ):
        await until(lambda: app.proxy is not None, timeout=20)
        folder.rmdir()
        folder.write_text("not a folder")
        await refuse_through(app.proxy.port, server.sockets[0].getsockname()[1], 3)
        await until(lambda: "autosave failed" in app.status.error, timeout=10)
        await pilot.press("q")
        await until(lambda: app.return_code is not None, timeout=10)
    (fallback,) = tmp_path.glob("wsinspect-*.json")
    assert len(load(fallback)) == 3
    assert app.return_code == 2
    said = "".join(capsys.readouterr().err.split())  # as printed after the app: wrapped
    assert "".join(f"saved 3 handshakes to {fallback} instead".split()) in said


async def test_autosave_writes_messages_and_the_close_that_come_after_the_first_save(
    capture, tmp_path
):
    """Once the handshake is saved, a long-lived WebSocket only adds messages and, at last, its
    close: each of those must reach the file too, or a crash loses the conversation."""

    async def echo(ws) -> None:
        async for message in ws:
            await ws.send(message)

    output = tmp_path / "live.json"
    async with (
        autosaving(capture.session, output) as autosave,
        serve(echo, "127.0.0.1", 0) as server,
    ):
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/chat"
        async with connect(url, proxy=capture.url) as ws:
            await until(lambda: output.exists() and _saved_status(output) == 101)
            saves = autosave.saves
            for text in ("one", "two", "three"):
                await ws.send(text)
                assert await ws.recv() == text
            await until(lambda: _saved_messages(output) == 6)
            assert autosave.saves > saves
        await until(lambda: next(iter(load(output))).websocket.close is not None)
    saved = next(iter(load(output))).websocket
    assert saved.close.code == 1000 and saved.close.by == "client"
    texts = [m.preview for m in saved.messages if m.opcode == 1]
    assert texts == ["one", "one", "two", "two", "three", "three"]


async def test_autosave_writes_a_close_that_comes_without_a_close_frame(capture, tmp_path):
    """A server that dies mid-conversation sends no close frame: the close alone must be saved."""

    die = asyncio.Event()

    async def dies_on_bye(ws) -> None:
        async for message in ws:
            if message == "bye":
                await die.wait()  # once the file holds the messages, so the close comes alone
                ws.transport.abort()
                return
            await ws.send(message)

    output = tmp_path / "live.json"
    async with (
        autosaving(capture.session, output),
        serve(dies_on_bye, "127.0.0.1", 0) as server,
    ):
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/chat"
        async with connect(url, proxy=capture.url) as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            await ws.send("bye")
            await until(lambda: output.exists() and _saved_messages(output) == 3)
            die.set()
            await ws.wait_closed()
        await capture.closed(capture.handshakes[0])
        # Not "one more save": one under way when the close came was made before it.
        await until(lambda: next(iter(load(output))).websocket.close is not None)
    close = next(iter(load(output))).websocket.close
    assert close is not None and close.code == 1006


@contextlib.asynccontextmanager
async def autosaving(session: Session, output: Path) -> AsyncIterator[Autosave]:
    """An autosave of ``session`` every 50 ms while the block runs."""
    autosave = Autosave(session, output, interval=0.05)
    autosave.start()
    try:
        yield autosave
    finally:
        await autosave.stop_timer()


def _saved_messages(path: Path) -> int:
    """How many messages the file says the first WebSocket carried."""
    saved = next((h.websocket for h in load(path)), None)
    return 0 if saved is None else saved.counts.client_messages + saved.counts.server_messages


def _saved_status(path: Path) -> int | None:
    return next((h.status for h in load(path)), None)
