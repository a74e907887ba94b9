"""Split mode's feed: handshakes from the addon in the user's mitmproxy to a dashboard.

The addon (wsinspect/split_mode.py) sends each answered or closed handshake as one JSON line over
a Unix socket (``FeedSender``, a recorder sink) to ``wsinspect watch --attach`` (``FeedReceiver``,
the source of an attached capture). A socket is local by nature: nobody off this machine can
connect.

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
from collections.abc import Callable
from pathlib import Path

import msgspec

from wsinspect.model import Count, Handshake, Session, check_url, decoder, encoder

QUEUE = 10_000  # handshakes waiting for the dashboard before new ones are dropped


class FeedUpdate(msgspec.Struct):
    """One line on the feed: a handshake as it now stands, and how many the addon dropped."""

    handshake: Handshake
    dropped: Count = 0


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
    """A recorder listener that streams handshakes to a dashboard's socket."""

    def __init__(self, path: Path, backlog: int = QUEUE) -> None:
        self.path = path
        self.dropped = 0
        self.refusal: str | None = None  # why the socket is not trusted, said once per reason
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(backlog)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._send())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def handshake_answered(self, handshake: Handshake) -> None:
        self._put(handshake)

    def websocket_closed(self, handshake: Handshake) -> None:
        self._put(handshake)

    def _put(self, handshake: Handshake) -> None:
        try:
            update = FeedUpdate(handshake, dropped=self.dropped)  # the dashboard says how many
            self._queue.put_nowait(_ENCODER.encode(update) + b"\n")
        except asyncio.QueueFull:
            self.dropped += 1

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
        self.dropped = 0  # updates the addon could not send in time (it says how many)

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

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not same_user(writer):
            self.refused += 1
            writer.close()
            return
        try:
            while line := await reader.readline():
                try:
                    update = _DECODER.decode(line)
                    handshake = update.handshake
                    check_url(handshake.url)
                    if handshake.websocket is not None:
                        handshake.websocket.seal()
                except ValueError:  # msgspec's errors are ValueErrors
                    continue  # not from our addon: ignore it
                self.dropped = max(self.dropped, update.dropped)
                self.merge(handshake)
        except (OSError, ValueError):
            pass
        finally:
            writer.close()

    def merge(self, handshake: Handshake) -> None:
        known = self.session.get(handshake.id)
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
