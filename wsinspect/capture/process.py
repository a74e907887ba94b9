"""The dashboard's proxy, in a process of its own.

The dashboard and the proxy once shared one interpreter: every redraw, and every pass of the
garbage collector over what the screen had made, stopped the relay for 20-90 ms
(bench/blocking.py). Now ``watch`` starts this module as a child (``python -m
wsinspect.capture.process``): it runs our mitmproxy and recorder, and feeds the dashboard over a
private Unix socket (capture/feed.py), as the split-mode addon does; nothing the dashboard does
can hold up the relay.

The parent writes the settings as one JSON line on the child's stdin; the child answers with one
line on stdout: ``{"port": N}`` once it listens, or ``{"error": "..."}`` (a busy port, said as the
embedded proxy says it). When the parent closes stdin, the child stops listening, sends what is
left, and exits. Whatever else the child says (mitmproxy's log) goes to its stderr, of which the
parent keeps the last lines, to say why the child ended if it ends unasked.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path

import msgspec

from wsinspect.capture.limits import Limits
from wsinspect.capture.proxy import ProxyConfig, ProxyError

STARTUP = 60.0  # seconds for the child to import mitmproxy and listen
STOPPING = 10.0  # seconds for the child to send what is left and exit, before it is killed
FLUSH = 5.0  # of those: seconds to empty the feed's queue


class Settings(msgspec.Struct):
    proxy: ProxyConfig
    limits: Limits
    feed: str  # the Unix socket the dashboard listens on


class Started(msgspec.Struct, omit_defaults=True):
    port: int = 0
    error: str = ""


class ProxyProcess:
    """The parent's handle on the child: start it, learn its port, stop it."""

    def __init__(self, settings: Settings, on_exit: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.on_exit = on_exit  # told, in one line, when the child ends without being asked
        self.port = 0
        self._child: asyncio.subprocess.Process | None = None
        self._said: deque[str] = deque(maxlen=20)  # the last lines of the child's stderr
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    @property
    def pid(self) -> int | None:
        return None if self._child is None else self._child.pid

    async def start(self) -> None:
        """Start the child and wait until it listens; ProxyError says why it does not."""
        self._child = child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_importing_this_wsinspect(),
        )
        assert child.stdin is not None and child.stdout is not None and child.stderr is not None
        self._tasks.append(asyncio.create_task(self._keep_last_words(child.stderr)))
        child.stdin.write(msgspec.json.encode(self.settings) + b"\n")
        try:
            line = await asyncio.wait_for(child.stdout.readline(), STARTUP)
            started = msgspec.json.decode(line, type=Started)
        except (TimeoutError, msgspec.ValidationError, msgspec.DecodeError):
            await self.stop()
            raise ProxyError(f"the proxy process did not start{self._last_words()}") from None
        if started.error:
            await self.stop()
            raise ProxyError(started.error)
        self.port = started.port
        self._tasks.append(asyncio.create_task(self._watch(child)))

    async def stop(self) -> None:
        """Ask the child to finish (it sends what is left), and wait for it; kill it if it hangs."""
        child, self._stopping = self._child, True
        if child is None:
            return
        if child.stdin is not None:
            child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), STOPPING)
        except TimeoutError:
            child.kill()
            await child.wait()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self, child: asyncio.subprocess.Process) -> None:
        code = await child.wait()
        if not self._stopping and self.on_exit is not None:
            await asyncio.sleep(0.1)  # its last words
            self.on_exit(f"the proxy process ended (exit code {code}){self._last_words()}")

    async def _keep_last_words(self, stderr: asyncio.StreamReader) -> None:
        while line := await stderr.readline():
            self._said.append(line.decode(errors="replace").strip())

    def _last_words(self) -> str:
        said = [line for line in self._said if line]
        return f": {said[-1]}" if said else ""


def _importing_this_wsinspect() -> dict[str, str]:
    """The environment, with this copy of wsinspect first on the child's path: the child runs
    the same code as the parent, installed or not, whatever the working folder."""
    import wsinspect

    home = str(Path(wsinspect.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": home if not path else f"{home}{os.pathsep}{path}"}


# -- the child ---------------------------------------------------------------------------------


async def serve(settings: Settings) -> None:
    """Run the proxy until stdin closes, feeding the dashboard."""
    from wsinspect.capture.feed import FeedSender
    from wsinspect.capture.service import Capture

    capture = Capture.embedded(settings.proxy, limits=settings.limits)
    sender = FeedSender(Path(settings.feed), follow=capture.session, forget=True)
    capture.sinks.append(sender)
    try:
        await capture.start()
    except ProxyError as e:
        _say(Started(error=str(e)))
        return
    sender.start()
    gc.collect()
    gc.freeze()  # mitmproxy and the rest of what startup made are never walked again
    _say(Started(port=capture.port))
    await _stdin_closed()
    await capture.stop()
    await sender.stop(flush=FLUSH)


def _say(started: Started) -> None:
    sys.stdout.buffer.write(msgspec.json.encode(started) + b"\n")
    sys.stdout.flush()


async def _stdin_closed() -> None:
    """Wait until the parent closes our stdin (or dies: the pipe closes with it)."""
    await asyncio.to_thread(sys.stdin.buffer.read)


def main() -> None:
    settings = msgspec.json.decode(sys.stdin.buffer.readline(), type=Settings)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
