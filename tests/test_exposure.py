"""A proxy listening beyond loopback: other machines must not reach this machine's loopback.

The "other machine" is a client socket bound to a non-loopback address of this machine: the
proxy judges a client by its address, and no packet leaves the machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from websockets.asyncio.server import serve

from tests.conftest import require
from wsinspect.sessions import load

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
SPARE = "198.18.0.1"  # benchmarking range: never routed; put on lo when there is no other address


def _local_addresses() -> list[str]:
    ip = shutil.which("ip")
    if ip is None:
        return []
    out = subprocess.run([ip, "-j", "-4", "addr"], capture_output=True, text=True).stdout
    return [a["local"] for link in json.loads(out or "[]") for a in link.get("addr_info", [])]


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[str]:
    """A non-loopback, non-public address of this machine (mitmproxy refuses public clients)."""
    for address in _local_addresses():
        parsed = ipaddress.ip_address(address)
        if not parsed.is_loopback and not parsed.is_global:
            yield address
            return
    added = subprocess.run(["ip", "addr", "add", f"{SPARE}/32", "dev", "lo"], check=False)
    require("a non-loopback address", added.returncode == 0, "needs root and `ip`")
    try:
        yield SPARE
    finally:
        subprocess.run(["ip", "addr", "del", f"{SPARE}/32", "dev", "lo"], check=False)


async def _echo(ws) -> None:
    await ws.wait_closed()  # the clients here only shake hands


@pytest.fixture
async def loopback_service() -> AsyncIterator[int]:
    """A WebSocket server bound to loopback only, as a dev server or an admin page is."""
    async with serve(_echo, "127.0.0.1", 0) as server:
        yield server.sockets[0].getsockname()[1]


@dataclass
class Proxy:
    process: asyncio.subprocess.Process
    port: int
    said: str  # on stderr, up to where it listens

    async def stop(self) -> str:
        """Stop it; all it said on stderr."""
        self.process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(self.process.communicate(), 20)
        return self.said + err.decode()


@asynccontextmanager
async def record(tmp_path, *options: str) -> AsyncIterator[Proxy]:
    """`wsinspect record --listen-host 0.0.0.0`, until it says where it listens."""
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "wsinspect", "record", "-p", "0", "--listen-host", "0.0.0.0"],
        *["-o", str(tmp_path / "session.json"), *options],
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    said = ""
    while not (found := re.search(r"proxy listening on [\d.]+:(\d+)", said)):
        line = await asyncio.wait_for(process.stderr.readline(), 20)
        assert line, f"record ended: {said}"
        said += line.decode()
    proxy = Proxy(process, int(found.group(1)), said)
    try:
        yield proxy
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def ask(proxy: Proxy, source: str, request: str) -> tuple[str, bytes]:
    """Send ``request`` to the proxy from address ``source``; its status line and body. After
    a tunnel opens, the WebSocket handshake goes through it and its answer is returned."""
    destination = "127.0.0.1" if ipaddress.ip_address(source).is_loopback else source
    reader, writer = await asyncio.open_connection(destination, proxy.port, local_addr=(source, 0))
    try:
        writer.write(request.encode())
        status, body = await answer(reader)
        if status.startswith("HTTP/1.1 200"):
            writer.write(upgrade("/").encode())
            status, body = await answer(reader)
        return status, body
    finally:
        writer.close()


async def answer(reader: asyncio.StreamReader) -> tuple[str, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    length = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
    body = await asyncio.wait_for(reader.readexactly(int(length.group(1))), 10) if length else b""
    return head.decode().split("\r\n", 1)[0], body


def upgrade(target: str, host: str = "x") -> str:
    return (
        f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )


def connect(authority: str) -> str:
    return f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n"


def loopback_name() -> str | None:
    """A name other than localhost that resolves to loopback here (this host's, or one from
    /etc/hosts), for the check that looks names up."""
    names = [socket.gethostname()]
    with open("/etc/hosts") as hosts:
        for line in hosts:
            fields = line.split("#", 1)[0].split()
            names += fields[1:]
    for name in names:
        if name == "localhost" or name.endswith(".localhost"):
            continue
        try:
            answers = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
        except OSError:
            continue
        if answers and all(ipaddress.ip_address(a[4][0]).is_loopback for a in answers):
            return name
    return None


REFUSED = b"wsinspect: loopback targets are refused for clients from other machines"


async def test_other_machines_are_refused_this_machines_loopback(
    tmp_path, elsewhere, loopback_service
):
    port = loopback_service
    async with record(tmp_path) as proxy:
        attempts = [
            connect(f"127.0.0.1:{port}"),
            connect(f"localhost:{port}"),
            connect(f"127.1:{port}"),  # shorthand a resolver accepts
            connect(f"[::ffff:127.0.0.1]:{port}"),
            connect(f"0.0.0.0:{port}"),
            upgrade(f"http://localhost:{port}/", f"localhost:{port}"),  # plain HTTP, no tunnel
        ]
        answers = [await ask(proxy, elsewhere, request) for request in attempts]
        # The same service through the same proxy, asked from this machine: allowed.
        local = await ask(proxy, "127.0.0.1", connect(f"127.0.0.1:{port}"))
        err = await proxy.stop()
    (allowed,) = load(tmp_path / "session.json")  # refusals are log lines, not handshakes
    assert allowed.status == 101
    for status, body in answers:
        assert status.startswith("HTTP/1.1 403"), status
        assert body.startswith(REFUSED) and b"--allow-loopback-targets" in body
    assert local[0] == "HTTP/1.1 101 Switching Protocols"
    assert f"wsinspect: refused CONNECT 127.0.0.1:{port} from {elsewhere}:" in err
    assert "loopback targets are refused for clients from other machines" in err
    assert "their requests to this machine's loopback (localhost, 127.0.0.1) are refused" in err
    assert "Traceback" not in err


async def test_a_name_that_resolves_to_loopback_is_refused_too(
    tmp_path, elsewhere, loopback_service
):
    name = loopback_name()
    require("a host name resolving to loopback", name is not None, "see /etc/hosts")
    async with record(tmp_path) as proxy:
        status, body = await ask(proxy, elsewhere, connect(f"{name}:{loopback_service}"))
        err = await proxy.stop()
    assert status.startswith("HTTP/1.1 403"), status
    assert body.startswith(REFUSED)
    assert f"refused CONNECT {name}:{loopback_service} from {elsewhere}:" in err


async def test_other_machines_reach_other_destinations(tmp_path, elsewhere):
    async with serve(_echo, elsewhere, 0) as server, record(tmp_path) as proxy:
        port = server.sockets[0].getsockname()[1]
        status, _ = await ask(proxy, elsewhere, connect(f"{elsewhere}:{port}"))
        await proxy.stop()
    assert status == "HTTP/1.1 101 Switching Protocols"


async def test_allow_loopback_targets_lets_them_through_and_says_so(
    tmp_path, elsewhere, loopback_service
):
    async with record(tmp_path, "--allow-loopback-targets") as proxy:
        status, _ = await ask(proxy, elsewhere, connect(f"127.0.0.1:{loopback_service}"))
        err = await proxy.stop()
    assert status == "HTTP/1.1 101 Switching Protocols"
    assert (
        "--allow-loopback-targets lets other machines reach services bound to this machine's "
        "loopback through the proxy"
    ) in err
