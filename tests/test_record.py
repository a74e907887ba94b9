"""`wsinspect record` run as a real process: lines as it goes, a file when told to stop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.helpers import run_cli, start_record
from wsinspect.sessions import load


@pytest.fixture
async def record():
    """Starts `wsinspect record` processes; kills any a failed test left running."""
    started = []

    async def start(*args: str):
        running = await start_record(*args)
        started.append(running)
        return running

    yield start
    for running in started:
        if running.process.returncode is None:
            running.process.kill()
            await running.process.wait()


async def echo(ws):
    async for message in ws:
        await ws.send(message)


@pytest.fixture
async def picky_server():
    """A websockets server that only admits http://localhost:3000."""
    async with serve(echo, "127.0.0.1", 0, origins=[Origin("http://localhost:3000")]) as server:
        yield server.sockets[0].getsockname()[1]


async def refused(port: int, proxy_port: int, **headers: str) -> None:
    url = f"ws://127.0.0.1:{port}/socket?token=s3cr3t-t0ken&room=blue"
    with pytest.raises(InvalidStatus):
        async with connect(
            url,
            proxy=f"http://127.0.0.1:{proxy_port}",
            origin=Origin("http://evil.example"),
            additional_headers=headers,
        ):
            pass


async def test_sigint_writes_a_valid_redacted_private_file(record, tmp_path, picky_server):
    output = tmp_path / "capture.json"
    running = await record("-o", str(output))
    await refused(picky_server, running.port, Cookie="sid=abc123", Authorization="Bearer xyz789")
    line = await running.line()
    assert "FAIL  403" in line and "origin http://evil.example" in line
    assert "origin-rejected: Origin http://evil.example refused by the server" in line
    running.process.send_signal(signal.SIGINT)
    code, _, err = await running.finish()
    assert code == 0
    assert "saved 1 handshakes" in err
    assert stat.S_IMODE(os.stat(output).st_mode) == 0o600

    text = output.read_text()
    for secret in ("abc123", "xyz789", "s3cr3t-t0ken"):
        assert secret not in text
    (handshake,) = list(load(output))
    assert handshake.status == 403
    assert handshake.url.endswith("/socket?token=[redacted]&room=blue")
    assert handshake.request.headers.get("Cookie") == "[redacted]"
    assert handshake.request.headers.get("Authorization") == "[redacted]"
    assert handshake.request.headers.get("Origin") == "http://evil.example"
    assert json.loads(text)["format"] == "wsinspect-session"


async def test_no_redact_keeps_secrets_and_sigterm_saves(record, tmp_path, picky_server):
    output = tmp_path / "raw.json"
    running = await record("-o", str(output), "--no-redact")
    await refused(picky_server, running.port, Cookie="sid=abc123")
    await running.line()
    running.process.send_signal(signal.SIGTERM)
    code, _, _ = await running.finish()
    assert code == 0
    (handshake,) = list(load(output))
    assert handshake.request.headers.get("Cookie") == "sid=abc123"
    assert "token=s3cr3t-t0ken" in handshake.url


async def test_count_stops_by_itself(record, tmp_path, picky_server):
    output = tmp_path / "two.json"
    running = await record("-o", str(output), "--count", "2")
    await refused(picky_server, running.port)
    await refused(picky_server, running.port)
    code, out, _ = await running.finish()
    assert code == 0
    assert len(out.splitlines()) == 2
    assert len(load(output)) == 2


async def test_duration_stops_by_itself(record, tmp_path):
    output = tmp_path / "empty.json"
    running = await record("-o", str(output), "--duration", "0.5")
    code, _, _ = await running.finish()
    assert code == 0
    assert len(load(output)) == 0


async def test_busy_port_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = await run_cli("record", "-o", str(tmp_path / "x.json"), "-p", str(port))
    assert code == 2
    assert err.strip() == (
        f"wsinspect: cannot listen on 127.0.0.1:{port}: the address is in use "
        "(choose another --port)"
    )
    assert out == ""
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--mode", "transparent"], "unknown mode 'transparent'"),
        (["--port", "70000"], "port must be between 0 and 65535"),
        (["--count", "0"], "expected a number above 0"),
    ],
)
async def test_bad_options_are_one_line_and_exit_2(tmp_path, args, message):
    code, _, err = await run_cli("record", "-o", str(tmp_path / "x.json"), *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert message in err


async def test_existing_output_is_not_clobbered(tmp_path):
    output = tmp_path / "keep.json"
    output.write_text("precious")
    code, _, err = await run_cli("record", "-o", str(output), "-p", "0", "--duration", "0.1")
    assert code == 2
    assert "already exists (use --force" in err
    assert output.read_text() == "precious"
    code, _, _ = await run_cli(
        "record", "-o", str(output), "-p", "0", "--duration", "0.1", "--force"
    )
    assert code == 0
    assert len(load(output)) == 0


async def test_captured_escape_sequences_never_reach_the_terminal(record, tmp_path, picky_server):
    running = await record("-o", str(tmp_path / "esc.json"))
    _, writer = await asyncio.open_connection("127.0.0.1", running.port)
    writer.write(
        f"GET http://127.0.0.1:{picky_server}/ HTTP/1.1\r\nHost: 127.0.0.1:{picky_server}\r\n"
        "Origin: http://x\x1b]0;pwned\x07\x9b31m.example\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode("latin-1")
    )
    await writer.drain()
    line = await running.line()
    writer.close()
    running.process.send_signal(signal.SIGINT)
    await running.finish()
    assert not set(line) & {"\x1b", "\x07", "\x9b"}
    assert "http://x\\x1b]0;pwned\\x07\\x9b31m.example" in line


async def test_listening_beyond_this_machine_is_warned_about(tmp_path):
    exposed = await run_cli(
        "record",
        "-o",
        str(tmp_path / "a.json"),
        "-p",
        "0",
        "--listen-host",
        "0.0.0.0",
        "--duration",
        "0.5",
    )
    local = await run_cli("record", "-o", str(tmp_path / "b.json"), "-p", "0", "--duration", "0.5")
    assert exposed[0] == 0 and local[0] == 0
    assert "warning: listening on 0.0.0.0, not only this machine" in exposed[2]
    assert "anyone who can reach the port can use the proxy" in exposed[2]
    assert "warning" not in local[2]


async def test_record_takes_the_hard_limit_of_open_files(tmp_path):
    """Two sockets per proxied connection: a soft limit of 256 would refuse the 128th client."""
    import resource
    import sys
    from pathlib import Path

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 256:
        pytest.skip(f"the hard limit is {hard}: nothing to raise")
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "wsinspect", "record", "-p", "0", "-o", str(tmp_path / "a.json")],
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)),
    )
    assert process.stderr is not None
    try:
        banner = await asyncio.wait_for(process.stderr.readline(), 20)
        assert b"listening on" in banner
        limits = Path(f"/proc/{process.pid}/limits").read_text()
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.communicate(), 20)
    (line,) = [line for line in limits.splitlines() if line.startswith("Max open files")]
    soft, hard_seen = line.split()[3:5]
    assert (int(soft), int(hard_seen)) == (hard, hard)
