"""One capture: the session, the recorder filling it, the sinks it tells, where traffic comes from.

Every capture is wired here, whoever runs it:

- ``Capture.embedded(config, sinks)``: our own mitmproxy in this process (``record``, the
  tests);
- ``Capture.separate(config, sinks)``: our own mitmproxy in a process of its own, feeding this
  one over a private Unix socket (``watch``: the dashboard never holds up the relay);
- ``Capture.attached(path, sinks)``: no proxy of ours; the split-mode addon feeds the session
  over a Unix socket (``watch --attach``);
- ``Capture.hosted()``: the recorder for a mitmproxy somebody else runs (split mode); that
  mitmproxy loads ``capture.addons``.

A sink is a recorder listener (``addon.Listener``): told on the proxy's event loop when a
handshake got its answer and when its WebSocket closed, so it must never block. The record line
printer, the dashboard and the split-mode feed sender are sinks; an attached capture tells them
the same as the recorder in the addon did. Saving is not the capture's business: files belong to
``wsinspect.sessions``, a layer above this one (tests/test_layers.py).

    async with Capture.embedded(ProxyConfig(port=0), [printer]) as capture:
        print(capture.port)
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from wsinspect.capture.addon import Listener, Recorder
from wsinspect.capture.feed import FeedReceiver
from wsinspect.capture.limits import DEFAULT_LIMITS, Limits
from wsinspect.capture.process import ProxyProcess, Settings
from wsinspect.capture.proxy import EmbeddedProxy, ProxyConfig, ProxyError
from wsinspect.model import Handshake, Session


class Capture:
    """A session being filled, from our proxy, from the split-mode feed, or from a host's proxy."""

    def __init__(
        self,
        session: Session,
        sinks: list[Listener],
        *,
        recorder: Recorder | None = None,
        source: EmbeddedProxy | FeedReceiver | None = None,
    ) -> None:
        self.session = session
        self.sinks = sinks  # the recorder's own list: a sink added later is told too
        self.recorder = recorder
        self.source = source  # None: the recorder runs inside somebody else's mitmproxy
        self.process: ProxyProcess | None = None  # our proxy's, when it feeds the source
        self._told: set[str] = set()  # fed handshakes the sinks know were answered

    @classmethod
    def embedded(
        cls,
        config: ProxyConfig,
        sinks: Iterable[Listener] = (),
        *,
        session: Session | None = None,
        limits: Limits = DEFAULT_LIMITS,
        **tuning: Any,
    ) -> Self:
        """Our own mitmproxy with the recorder as its addon. ``tuning`` goes to the Recorder
        (the tests shorten ``answer_timeout``)."""
        session = _new_session() if session is None else session
        session.proxy = config.describe()
        listeners = list(sinks)
        recorder = Recorder(session, listeners, limits, **tuning)
        return cls(session, listeners, recorder=recorder, source=EmbeddedProxy(config, [recorder]))

    @classmethod
    def separate(
        cls,
        config: ProxyConfig,
        sinks: Iterable[Listener] = (),
        *,
        session: Session | None = None,
        limits: Limits = DEFAULT_LIMITS,
        on_exit: Callable[[str], None] | None = None,
    ) -> Self:
        """Our own mitmproxy in a child process (capture/process.py), feeding a socket in a
        folder of its own that only this user can enter. ``on_exit`` hears, in one line, that
        the child ended without being asked."""
        folder = Path(tempfile.mkdtemp(prefix="wsinspect-"))  # mode 0700
        capture = cls.attached(folder / "feed.sock", sinks, session=session)
        capture.session.proxy = config.describe()
        settings = Settings(config, limits, str(folder / "feed.sock"))
        capture.process = ProxyProcess(settings, on_exit)
        return capture

    @classmethod
    def attached(
        cls, path: Path, sinks: Iterable[Listener] = (), *, session: Session | None = None
    ) -> Self:
        """Handshakes recorded by the split-mode addon, arriving on the Unix socket ``path``."""
        capture = cls(_new_session() if session is None else session, list(sinks))
        capture.source = FeedReceiver(path, capture.session, capture._fed)
        return capture

    @classmethod
    def hosted(cls, limits: Limits = DEFAULT_LIMITS) -> Self:
        """The recorder for somebody else's mitmproxy, which runs it and keeps bodies as it was
        configured to: refusals' bodies are not streamed."""
        session = _new_session(proxy={"source": "mitmproxy addon"})
        listeners: list[Listener] = []
        recorder = Recorder(session, listeners, limits, stream_refusals=False)
        return cls(session, listeners, recorder=recorder)

    @property
    def addons(self) -> list[object]:
        """What a mitmproxy runs for this capture (a hosting one loads them as nested addons)."""
        return [] if self.recorder is None else [self.recorder]

    @property
    def port(self) -> int:
        """The port our proxy listens on (the one bound when the config asked for 0)."""
        if self.process is not None:
            return self.process.port
        if not isinstance(self.source, EmbeddedProxy):
            raise ProxyError("this capture has no proxy of its own")
        return self.source.port

    @property
    def address(self) -> str:
        """Where the traffic comes in, for the user: host:port, or the feed's socket."""
        if self.process is not None:
            return ProxyConfig(self.process.settings.proxy.listen_host, self.port).address
        if isinstance(self.source, EmbeddedProxy):
            return f"{self.source.config.listen_host}:{self.port}"
        if isinstance(self.source, FeedReceiver):
            return str(self.source.path)
        return "the hosting mitmproxy"

    @property
    def dropped(self) -> int:
        """Handshakes lost before they reached this session: the split-mode addon says how many
        it could not send in time. Our own proxy loses none."""
        return self.source.dropped if isinstance(self.source, FeedReceiver) else 0

    async def start(self) -> None:
        """Listen; raises ProxyError with one line for the user (a busy port, a foreign socket)."""
        if isinstance(self.source, FeedReceiver):
            try:
                await self.source.start()
            except OSError as e:
                raise ProxyError(f"cannot listen on {self.source.path}: {e}") from None
        elif self.source is not None:
            await self.source.start()
        if self.process is not None:
            try:
                await self.process.start()
            except ProxyError:
                await self.stop()
                raise

    async def stop(self) -> None:
        """Stop listening; the port (or the socket) is free again. What was captured stays:
        our proxy's process sends what is left before it ends, and all of it is read."""
        if self.process is not None:
            await self.process.stop()
            assert isinstance(self.source, FeedReceiver)
            await self.source.stop(drain=5.0)
            shutil.rmtree(self.source.path.parent, ignore_errors=True)
        elif self.source is not None:
            await self.source.stop()

    def clear(self) -> None:
        """Forget what was captured so far, and any news of it still to come."""
        if isinstance(self.source, FeedReceiver):
            self.source.ignore(h.id for h in self.session)
        self.session.clear()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _fed(self, handshake: Handshake) -> None:
        """A sender sends a handshake when it is answered and when its WebSocket closes (or a
        late answer replaces "no answer"); following a session, also while it waits for its
        answer and as an open WebSocket's messages come. The sinks hear what the recorder would
        say: the answer (again with each news of an open WebSocket), then the close."""
        if handshake.response is None and handshake.error is None:
            return  # listed in the session, not answered yet
        first = handshake.id not in self._told
        self._told.add(handshake.id)
        closed = handshake.websocket is not None and handshake.websocket.close is not None
        for sink in self.sinks:
            if first or not closed:
                sink.handshake_answered(handshake)
            if closed:
                sink.websocket_closed(handshake)


def _new_session(proxy: dict[str, Any] | None = None) -> Session:
    return Session(created=time.time(), proxy=proxy or {})
