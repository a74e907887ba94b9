"""The feed: handshakes from a recorder in another process to a dashboard.

A ``FeedSender`` (a recorder sink) sends each answered or closed handshake as one JSON line over
a Unix socket to a ``FeedReceiver`` (the source of a fed capture). Two senders use it: the
split-mode addon in the user's own mitmproxy (wsinspect/split_mode.py, ``watch --attach``), and
the dashboard's own proxy, which runs in a process of its own (capture/process.py). Following a
session, a sender also sends what is new every ``FOLLOW_EVERY`` seconds: attempts still waiting
for an answer, and the messages of open WebSockets, only those not sent before. A socket is
local by nature: nobody off this machine can connect.

Handshakes carry cookies and tokens, and the default socket may sit in a shared ``$TMPDIR``
where another user could have made the folder first. So both ends insist on a folder that is
this user's own, private and not a symbolic link, and the sender also asks the kernel who
listens (``SO_PEERCRED``) before it sends a byte.

The sender never slows mitmproxy down: lines wait in a bounded queue and are dropped, and
counted, when no dashboard is listening or it cannot keep up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
import struct
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

import msgspec

from wsinspect.model import (
    Count,
    Handshake,
    Session,
    check_url,
    decoder,
    encoder,
    is_over,
)

QUEUE = 10_000  # handshakes waiting for the dashboard before new ones are dropped
FOLLOW_EVERY = 0.1  # seconds between a following sender's looks at what changed


class FeedUpdate(msgspec.Struct):
    """One line on the feed: a handshake as it now stands, and how many the sender dropped.

    With ``appended``, the WebSocket's messages are only those after the ones sent before, and
    ``window`` is how many the receiver keeps: an open socket's update stays small.
    """

    handshake: Handshake
    dropped: Count = 0
    appended: bool = False
    window: Count = 0


class Progress(NamedTuple):
    """How far a handshake had come when it was last sent."""

    answered: float | None
    error: str | None
    upgraded: bool
    messages: int  # ever put in its window: the ones kept and the ones dropped from it
    closed: bool

    @classmethod
    def of(cls, handshake: Handshake) -> Progress:
        ws = handshake.websocket
        if ws is None:
            return cls(handshake.answered, handshake.error, False, 0, False)
        messages = len(ws.messages) + ws.messages_dropped
        return cls(handshake.answered, handshake.error, True, messages, ws.close is not None)


_ENCODER = encoder()
_DECODER = decoder(FeedUpdate)

log = logging.getLogger("wsinspect")


def default_socket() -> Path:
    """Per user, in a folder only the user can enter."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "wsinspect.sock"
    user = os.getuid() if hasattr(os, "getuid") else os.getlogin()  # Windows has no uid
    return Path(tempfile.gettempdir()) / f"wsinspect-{user}" / "feed.sock"


def _owner(uid: int) -> str:
    try:
        import pwd
    except ImportError:  # Windows
        return f"uid {uid}"
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _trusted(uid: int) -> bool:
    """This user, or root (who can read our memory anyway)."""
    return uid in (os.getuid(), 0)


def folder_problem(folder: Path) -> str | None:
    """Why ``folder`` must not hold the feed's socket, or None when it is fit (or absent).

    It must be a real folder, not a symbolic link, owned by this user, with no access for
    anyone else: then nobody else can put a socket of theirs, or a link to one, in it.
    """
    if not hasattr(os, "getuid"):
        return None  # Windows: no uids, and Unix sockets in the user's own folders
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return f"{folder} is a symbolic link (to {os.readlink(folder)}), not a folder"
    if not stat.S_ISDIR(info.st_mode):
        return f"{folder} is not a folder"
    if not _trusted(info.st_uid):
        return f"folder {folder} belongs to {_owner(info.st_uid)}, not to you"
    if info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        return f"folder {folder} is open to other users (mode {mode:o}; chmod 700 it)"
    return None


def peer_uid(sock: socket.socket | None) -> int | None:
    """The uid of the process at the other end of a Unix socket, where the kernel tells it.

    Linux has SO_PEERCRED. macOS and the BSDs would need LOCAL_PEERCRED/getpeereid, which
    Python does not wrap; there the private folder is the guard.
    """
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return None
    credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return uid


class FeedSender:
    """A recorder listener that streams handshakes to a dashboard's socket.

    ``follow``: the session the recorder fills, watched for what the events do not tell (new
    attempts, new messages). ``forget``: drop what is over from it once sent, where nothing but
    the feed reads that session (the dashboard's proxy process).
    """

    def __init__(
        self,
        path: Path,
        backlog: int = QUEUE,
        *,
        follow: Session | None = None,
        forget: bool = False,
    ) -> None:
        self.path = path
        self.dropped = 0
        self.refusal: str | None = None  # why the socket is not trusted, said once per reason
        self.follow = follow
        self.forget = forget
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(backlog)
        self._tasks: list[asyncio.Task[None]] = []
        self._followed = 0  # handshakes of ``follow`` looked at so far
        self._progress: dict[str, Progress | None] = {}  # in progress: how far each was sent

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._send()))
        if self.follow is not None:
            self._tasks.append(loop.create_task(self._keep_following()))

    async def stop(self, flush: float = 0.0) -> None:
        """Stop sending; with ``flush``, first send what changed and wait up to that many seconds
        for the queue to empty."""
        if flush:
            self.follow_up()
            deadline = asyncio.get_running_loop().time() + flush
            while not self._queue.empty() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def handshake_answered(self, handshake: Handshake) -> None:
        self._put(handshake)

    def websocket_closed(self, handshake: Handshake) -> None:
        self._put(handshake)

    async def _keep_following(self) -> None:
        while True:
            await asyncio.sleep(FOLLOW_EVERY)
            self.follow_up()

    def follow_up(self) -> None:
        """Send the attempts new in the followed session, and whatever changed in those still in
        progress; then forget (if asked) what is over and sent."""
        session = self.follow
        if session is None:
            return
        new = session.since(self._followed)
        self._followed += len(new)
        for handshake in new:
            self._progress.setdefault(handshake.id, None)
        over = []
        for handshake_id, sent in list(self._progress.items()):
            handshake = session.get(handshake_id)
            if handshake is None:
                del self._progress[handshake_id]
                continue
            if sent is None or Progress.of(handshake) != sent:
                self._put(handshake)
            if is_over(handshake):
                del self._progress[handshake_id]
                over.append(handshake_id)
        if self.forget and over:
            session.forget(over)
            self._followed = len(session)

    def _put(self, handshake: Handshake) -> None:
        """Queue the handshake as it stands: whole the first time, then with only the messages not
        sent yet."""
        sent = self._progress.get(handshake.id)
        now = Progress.of(handshake)
        update = FeedUpdate(handshake, dropped=self.dropped)  # the dashboard says how many
        ws = handshake.websocket
        if ws is not None and sent is not None and sent.upgraded:
            unsent = min(now.messages - sent.messages, len(ws.messages))
            new = tuple(ws.messages)[len(ws.messages) - unsent :]
            update.handshake = msgspec.structs.replace(
                handshake, websocket=msgspec.structs.replace(ws, messages=new)
            )
            update.appended, update.window = True, len(ws.messages)
        try:
            self._queue.put_nowait(_ENCODER.encode(update) + b"\n")
        except asyncio.QueueFull:
            self.dropped += 1
            return
        if self.follow is not None:
            self._progress[handshake.id] = now

    async def _send(self) -> None:
        while True:
            writer = await self._connect()
            if writer is None:
                await asyncio.sleep(1)  # no dashboard yet, or not one to trust
                continue
            log.info(f"wsinspect: feeding the dashboard at {self.path}")
            try:
                while True:
                    writer.write(await self._queue.get())
                    await writer.drain()
            except OSError:
                log.info("wsinspect: the dashboard went away")
            finally:
                writer.close()

    async def _connect(self) -> asyncio.StreamWriter | None:
        """A connection to a dashboard run by this user, checked before a byte is sent."""
        problem = folder_problem(self.path.parent)
        if problem is None:
            try:
                _, writer = await asyncio.open_unix_connection(str(self.path))
            except OSError:
                return None
            uid = peer_uid(writer.get_extra_info("socket"))
            if uid is None or _trusted(uid):
                self.refusal = None  # a refusal later is worth saying again
                return writer
            writer.close()
            problem = f"the process listening there runs as {_owner(uid)}, not as you"
        self._refuse(problem)
        return None

    def _refuse(self, problem: str) -> None:
        if problem != self.refusal:
            self.refusal = problem
            log.warning(
                f"wsinspect: not feeding the dashboard at {self.path}: {problem}; nothing was "
                "sent (remove it, or pick a private socket with --set wsinspect_feed=PATH)"
            )


class FeedReceiver:
    """The dashboard's end: listens on the Unix socket, merges handshakes into ``session``."""

    def __init__(self, path: Path, session: Session, changed: Callable[[Handshake], None]) -> None:
        self.path = path
        self.session = session
        self.changed = changed  # called with each handshake merged, new or updated
        self.server: asyncio.Server | None = None
        self.refused = 0  # peers running as another user
        self.dropped = 0  # updates the sender could not send in time (it says how many)
        self._ignored: set[str] = set()  # handshakes the user cleared: their updates too
        self._readers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        from wsinspect.capture.proxy import ProxyError

        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        problem = folder_problem(self.path.parent)
        if problem is not None:  # never chmod or reuse somebody else's folder
            raise ProxyError(f"{problem} (remove it, or choose another --attach SOCKET)")
        with contextlib.suppress(FileNotFoundError):
            if await self._in_use():
                raise ProxyError(f"another dashboard is attached at {self.path}")
            self.path.unlink()
        umask = os.umask(0o177)  # the socket is born 0600: only this user can feed it
        try:
            # A line is one handshake with its message previews: allow long ones.
            self.server = await asyncio.start_unix_server(
                self._serve, str(self.path), limit=1 << 26
            )
        finally:
            os.umask(umask)

    async def _in_use(self) -> bool:
        try:
            _, writer = await asyncio.open_unix_connection(str(self.path))
        except OSError:  # refused: a socket file left behind by a dashboard that died
            return False
        writer.close()
        return True

    async def stop(self, drain: float = 0.0) -> None:
        """Stop listening; with ``drain``, first give the senders that long to finish (a sender
        that has stopped has closed its end: what it sent is read to the end)."""
        if self.server is None:
            return
        self.server.close()
        if self._readers:
            _, unfinished = await asyncio.wait(self._readers, timeout=drain)
            for reader in unfinished:
                reader.cancel()
        await self.server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def ignore(self, handshake_ids: Iterable[str]) -> None:
        """The user cleared these: later news of them (an open WebSocket's) is not wanted."""
        self._ignored.update(handshake_ids)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not same_user(writer):
            self.refused += 1
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._readers.add(task)
        try:
            while line := await reader.readline():
                try:
                    update = _DECODER.decode(line)
                    check_url(update.handshake.url)
                except ValueError:  # msgspec's errors are ValueErrors
                    continue  # not from our sender: ignore it
                self.dropped = max(self.dropped, update.dropped)
                self.merge(update)
        except (OSError, ValueError):
            pass
        finally:
            self._readers.discard(task)
            writer.close()

    def merge(self, update: FeedUpdate) -> None:
        handshake = update.handshake
        if handshake.id in self._ignored:
            return
        known = self.session.get(handshake.id)
        ws = handshake.websocket
        if ws is not None:
            if update.appended and known is not None and known.websocket is not None:
                kept = (*known.websocket.messages, *ws.messages)
                ws.messages = kept[max(0, len(kept) - update.window) :]
            ws.seal()
        if known is None:
            self.session.add(handshake)
            self.changed(handshake)
            return
        for name in Handshake.__struct_fields__:  # in place: the views hold this object
            setattr(known, name, getattr(handshake, name))
        self.changed(known)


def same_user(writer: asyncio.StreamWriter) -> bool:
    """Whether the peer of a Unix socket runs as this user (or root): the private folder and the
    socket's 0600 mode already keep others out; this holds even if someone loosens them."""
    uid = peer_uid(writer.get_extra_info("socket"))
    return uid is None or _trusted(uid)
