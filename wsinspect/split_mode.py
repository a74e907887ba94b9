"""Split mode: wsinspect's recorder inside the user's own mitmproxy, feeding a dashboard.

``mitmdump -s "$(wsinspect addon-path)"`` (or ``mitmweb -s``) loads ``mitmproxy_script.py``,
whose ``addons`` list is one ``SplitMode``. mitmproxy keeps its WebSocket layer on, and the
recorder's ``websocket_*`` hooks fill the same model the embedded proxy does. Each answered or
closed handshake goes to ``wsinspect watch --attach`` over a Unix socket (capture/feed.py), and
with ``--set wsinspect_save=FILE`` the session is also written when mitmproxy stops.

This sits above both the capture and the files (tests/test_layers.py): it is a program, like
``record``, wiring a capture to a sink and a file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from wsinspect.capture.addon import ANSWER_TIMEOUT
from wsinspect.capture.feed import FeedSender, default_socket
from wsinspect.capture.service import Capture
from wsinspect.sessions import OutputError, save

log = logging.getLogger("wsinspect")


class SplitMode:
    """The addon: its options, the capture's recorder (a nested addon), the feed and the save."""

    def __init__(self) -> None:
        self.capture = Capture.hosted()
        self.addons = self.capture.addons  # mitmproxy runs nested addons' hooks too
        self.sender: FeedSender | None = None

    def load(self, loader: Any) -> None:
        loader.add_option(
            "wsinspect_save", str, "", "Write the wsinspect session to this file when stopping."
        )
        loader.add_option(
            "wsinspect_answer_timeout",
            int,  # mitmproxy's options take no float
            round(ANSWER_TIMEOUT),
            "Seconds without an answer before an attempt is recorded as unanswered.",
        )
        loader.add_option(
            "wsinspect_feed",
            str,
            str(default_socket()),
            "Unix socket of a dashboard started with `wsinspect watch --attach` ('' for none).",
        )

    def configure(self, updated: set[str]) -> None:
        from mitmproxy import ctx

        lazy_connections(ctx.options)  # at load, before the proxy listens, and if changed later
        if "wsinspect_answer_timeout" in updated and self.capture.recorder is not None:
            self.capture.recorder.answer_timeout = ctx.options.wsinspect_answer_timeout

    def running(self) -> None:
        from mitmproxy import ctx

        if ctx.options.wsinspect_feed:
            self.sender = FeedSender(Path(ctx.options.wsinspect_feed))
            self.capture.sinks.append(self.sender)
            self.sender.start()

    async def done(self) -> None:
        from mitmproxy import ctx

        await self.capture.stop()
        if self.sender is not None:
            await self.sender.stop()
            if self.sender.dropped:
                log.warning(
                    f"wsinspect: {self.sender.dropped} handshakes not sent to the dashboard"
                )
        if ctx.options.wsinspect_save:
            self.save(Path(ctx.options.wsinspect_save))

    def save(self, path: Path) -> None:
        session = self.capture.session
        try:
            save(session, path)
        except OutputError as e:
            log.error(f"wsinspect: {e}")
        else:
            log.info(f"wsinspect: saved {len(session)} handshakes")


def lazy_connections(options: Any) -> None:
    """mitmproxy's default, ``connection_strategy=eager``, connects to the server before the
    client's upgrade request is read: a wss:// server that accepts and never answers hangs that
    TLS handshake, and the attempt is never seen. Lazy reads the request first, so it is recorded
    (as our own proxy does); said once, since it changes the user's mitmproxy."""
    if options.connection_strategy != "lazy":
        options.update(connection_strategy="lazy")
        log.info(
            "wsinspect: set connection_strategy=lazy (was eager) so that attempts a server "
            "never answers are recorded"
        )
