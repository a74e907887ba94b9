"""Nothing captured is lost, and nobody downstream can slow the proxy down.

The dashboard and `record` keep their session file current while capturing, so killing them
loses at most one interval; a reader that stops reading `record`'s output costs printed lines
(counted), never proxied traffic or captured handshakes.
"""

from __future__ import annotations

import asyncio
import os
import pty
import re
import signal
import sys
import time

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus

from tests.conftest import until
from tests.helpers import start_record
from tests.servers import free_port, wait_for_port
from wsinspect.sessions import load


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
                    origin="http://evil.test",
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
    async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0, origins=["http://a.test"]) as s:
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
    async with serve(lambda ws: ws.wait_closed(), "127.0.0.1", 0, origins=["http://a.test"]) as s:
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
            lambda ws: ws.wait_closed(), "127.0.0.1", 0, origins=["http://a.test"]
        ) as server:
            port = server.sockets[0].getsockname()[1]
            await wait_for_port(proxy_port, "the dashboard's proxy", timeout=20)
            await refuse_through(proxy_port, port, 3)
            await until(lambda: output.exists() and len(load(output)) == 3, timeout=10)
    finally:
        process.kill()
        await process.wait()
        await drain
    session = load(output)
    assert len(session) == 3
    assert all(h.findings[0].code == "origin-rejected" for h in session)


def _drain(fd: int) -> None:
    """Read the dashboard's screen output so that it never blocks on a full terminal."""
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
