"""What the benchmarks share: servers and proxies started as processes, and their ports."""

from __future__ import annotations

import re
import socket
import threading
import time
from subprocess import DEVNULL, PIPE, Popen

ECHO_SERVER = """
import asyncio
from websockets.asyncio.server import serve
async def echo(ws):
    async for message in ws:
        await ws.send(message)
async def main():
    async with serve(echo, "127.0.0.1", 0, {options}) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


def echo_server(options: str = "") -> str:
    """The source of a websockets echo server that prints its port; ``options`` go to serve()."""
    return ECHO_SERVER.format(options=options)


def start(
    args: list[str],
    port_pattern: str,
    banner_on_stderr: bool,
    env: dict[str, str] | None = None,
) -> tuple[Popen, int, list]:
    """Start a process and read the port it listens on from its first line. The rest of that
    stream keeps being read (so the process never blocks on it) into the returned list."""
    process = Popen(
        args,
        stdout=DEVNULL if banner_on_stderr else PIPE,
        stderr=PIPE if banner_on_stderr else DEVNULL,
        text=True,
        env=env,
    )
    source = process.stderr if banner_on_stderr else process.stdout
    assert source is not None
    line = source.readline()
    found = re.search(port_pattern, line)
    if not found:
        process.kill()
        raise SystemExit(f"could not start {args[:3]}: {line!r}")
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(source), daemon=True).start()
    return process, int(found.group(1)), lines


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    """For processes that say nothing when they are ready (mitmdump -q)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port} after {timeout:g} s")
