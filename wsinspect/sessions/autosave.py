"""Keeping a live session's file current, so that a crash loses at most one interval.

Every ``interval`` seconds, when anything changed, a snapshot is taken on the proxy's loop (fast)
and written by a worker thread (slow: the proxy never waits for the disk); once more at the end.
A write that fails (a full disk, a folder gone) is said once, keeps the session in memory and is
tried again at the next interval; the session is never dropped for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from wsinspect.model import Session
from wsinspect.sessions import save, save_in_background
from wsinspect.sessions.files import OutputError

INTERVAL = 5.0  # seconds


def save_for_good(session: Session, path: Path, *, redact: bool = True) -> tuple[bool, str]:
    """The last save before exit: to ``path``, or when that fails, to a new file in the temporary
    folder rather than lose the session. Whether ``path`` got it, and what to tell the user."""
    try:
        save(session, path, redact=redact)
    except OutputError as e:
        failure = str(e)
    else:
        return True, f"saved {len(session)} handshakes to {path}"
    fallback = Path(tempfile.gettempdir()) / f"wsinspect-{int(time.time())}-{os.getpid()}.json"
    try:
        save(session, fallback, redact=redact)
    except OutputError as e:
        return False, f"{failure}; the fallback failed too ({e}): the session is lost"
    return False, f"{failure}; saved {len(session)} handshakes to {fallback} instead"


def _progress(session: Session) -> tuple[int, ...]:
    """Changes whenever anything worth saving does: a new attempt, an answer, a message, a close."""
    answered = closed = messages = 0
    for handshake in session:
        answered += handshake.answered is not None or handshake.error is not None
        ws = handshake.websocket
        if ws is not None:
            closed += ws.close is not None
            messages += ws.counts.client_messages + ws.counts.server_messages + len(ws.messages)
    return len(session), answered, closed, messages


class Autosave:
    def __init__(
        self,
        session: Session,
        path: Path,
        *,
        interval: float = INTERVAL,
        redact: bool = True,
        on_error: Callable[[str], None] = lambda message: None,
        on_recovered: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.session = session
        self.path = path
        self.interval = interval
        self.redact = redact
        self.on_error = on_error  # told when saving starts failing, or fails another way
        self.on_recovered = on_recovered  # told when a save works again
        self.failing: str | None = None  # why the last save failed
        self.saves = 0
        self._saved: tuple[int, ...] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="wsinspect autosave")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.save_if_changed()

    async def save_if_changed(self) -> bool:
        progress = _progress(self.session)
        if progress == self._saved:
            return False
        try:
            snapshot = await save_in_background(self.session, self.path, redact=self.redact)
        except (OutputError, OSError) as e:
            self._failed(str(e) if isinstance(e, OutputError) else f"cannot write: {e}")
            return False
        self._saved = progress
        self.saves += 1
        if self.failing is not None:
            self.failing = None
            self.on_recovered(f"autosave works again: {len(snapshot)} handshakes in {self.path}")
        return True

    def _failed(self, reason: str) -> None:
        if reason == self.failing:
            return  # said already; still retrying
        self.failing = reason
        self.on_error(
            f"autosave failed: {reason}; the session is kept in memory and saving is tried "
            f"again every {self.interval:g} s"
        )

    async def stop_timer(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def stop(self) -> bool:
        """Stop the timer and write what changed since the last save; False if that failed."""
        await self.stop_timer()
        await self.save_if_changed()
        return self.failing is None
