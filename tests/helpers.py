"""Running wsinspect as a user does: a real process, its output, its exit code."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class Running:
    process: asyncio.subprocess.Process
    port: int

    async def line(self, timeout: float = 10) -> str:
        assert self.process.stdout is not None
        return (await asyncio.wait_for(self.process.stdout.readline(), timeout)).decode()

    async def finish(self, timeout: float = 20) -> tuple[int, str, str]:
        out, err = await asyncio.wait_for(self.process.communicate(), timeout)
        assert self.process.returncode is not None
        return self.process.returncode, out.decode(), err.decode()


async def start_record(*args: str, stdout: int = asyncio.subprocess.PIPE) -> Running:
    """Start `wsinspect record -p 0 ...` and wait until it says which port it listens on."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wsinspect",
        "record",
        "-p",
        "0",
        *args,
        stdout=stdout,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    banner = (await asyncio.wait_for(process.stderr.readline(), 20)).decode()
    found = re.search(r"listening on [\d.]+:(\d+)", banner)
    assert found, f"no listening line, got {banner!r}"
    return Running(process, int(found.group(1)))


async def run_cli(*args: str, timeout: float = 30) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wsinspect",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@contextlib.contextmanager
def taken_port() -> Iterator[int]:
    """A port something else already listens on, as a user's other server would."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]
