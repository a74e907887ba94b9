"""Shared fixtures: a real capture (the embedded proxy, its recorder), and helpers to wait on it."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from wsinspect.capture.limits import DEFAULT_LIMITS, Limits
from wsinspect.capture.proxy import EmbeddedProxy, ProxyConfig
from wsinspect.capture.service import Capture as Service
from wsinspect.model import Handshake

IN_CI = os.environ.get("CI") == "true"


def require(what: str, available: bool, how: str) -> None:
    """Skip locally when a real component is missing; under CI=true that is a failure."""
    if available:
        return
    message = f"{what} is not available ({how})"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def require_program(name: str, how: str) -> str:
    """The program installed beside the running interpreter (the venv's own ``mitmdump``, of
    the mitmproxy the tests import), else the first on PATH."""
    beside = Path(sys.executable).parent / name
    path = str(beside) if os.access(beside, os.X_OK) else shutil.which(name)
    require(name, path is not None, how)
    assert path is not None
    return path


async def until(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait for something the proxy does asynchronously (e.g. the end of a relayed connection)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the proxy")
        await asyncio.sleep(0.01)


class Capture(Service):
    """The capture service, as ``record`` and ``watch`` run it, with what the tests ask of it."""

    @property
    def proxy(self) -> EmbeddedProxy:
        """Our mitmproxy: ``proxy.stop()`` frees the port."""
        assert isinstance(self.source, EmbeddedProxy)
        return self.source

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def handshakes(self) -> list[Handshake]:
        return list(self.session)

    async def one(self) -> Handshake:
        await until(lambda: len(self.session) == 1)
        return self.handshakes[0]

    async def closed(self, handshake: Handshake) -> Handshake:
        await until(lambda: handshake.websocket is not None and handshake.websocket.close)
        return handshake


async def start_capture(
    mode: str = "regular", limits: Limits = DEFAULT_LIMITS, **recorder: Any
) -> Capture:
    """Our proxy on a free port; ``recorder`` tunes the Recorder (e.g. ``answer_timeout``)."""
    capture = Capture.embedded(ProxyConfig(port=0, mode=mode), limits=limits, **recorder)
    await capture.start()
    return capture


@pytest.fixture
async def capture() -> AsyncIterator[Capture]:
    running = await start_capture()
    try:
        yield running
    finally:
        await running.stop()
