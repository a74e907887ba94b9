"""An RFC 6455 frame sniffer for the bytes mitmproxy relays after a 101.

Why it exists: mitmproxy's own WebSocket layer relays ~1.4k echo messages/s here, its raw TCP relay
~17k/s. So the embedded proxy relays upgraded connections as raw TCP, and this module reads the
frames out of the relayed bytes, per direction and incrementally, without ever buffering a whole
payload: exact counts and sizes, opcodes, fragmentation, the close, and bounded previews. It only
reads; the bytes on the wire are relayed by mitmproxy untouched.
"""

from __future__ import annotations

import zlib
from collections import deque
from dataclasses import dataclass

from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.headers import parse_extension

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - the pure-Python fallback of websockets
    from websockets.utils import apply_mask

from wsinspect.capture.limits import Limits
from wsinspect.model import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_TEXT,
    Close,
    Message,
    Side,
    WebSocketSummary,
    parse_close,
)

_INFLATE_TAIL = b"\x00\x00\xff\xff"
_INFLATE_STEP = 64 * 1024  # bound on inflated bytes held at once
# With context takeover every byte must be inflated to follow the context, and inflating costs in
# proportion to what comes out (zeros: ~2.6 ms per MB). So a direction may inflate at most this
# many bytes per compressed byte it carried, plus a reserve for bursts; past that it is a bomb
# (text inflates 3-20x, identical repeated messages up to ~100x, zeros 1000x) and its previews
# stop: a bomb costs a few MB of inflating, however large it claims to be.
_INFLATE_RATIO = 128
_INFLATE_RESERVE = 1 << 20
_MAX_CONTROL_PAYLOAD = 125
_SMALL_DATA_FRAME = frozenset({0x80 | OP_TEXT, 0x80 | OP_BINARY})  # FIN; RSV2, RSV3 clear


@dataclass(frozen=True, slots=True)
class Deflate:
    """permessage-deflate as the 101 negotiated it: which directions reset their context."""

    client_no_context_takeover: bool = False
    server_no_context_takeover: bool = False

    @classmethod
    def from_response_header(cls, value: str | None) -> Deflate | None:
        """Read the server's accepted Sec-WebSocket-Extensions; None when deflate is not on."""
        if not value:
            return None
        try:
            extensions = parse_extension(value)
        except Exception:
            return None
        for name, params in extensions:
            if name == ServerPerMessageDeflateFactory.name:
                flags = {key for key, _ in params}
                return cls(
                    client_no_context_takeover="client_no_context_takeover" in flags,
                    server_no_context_takeover="server_no_context_takeover" in flags,
                )
        return None


class MessageWindow:
    """Appends finished messages to a summary: exact counts, a bounded window of previews."""

    def __init__(self, summary: WebSocketSummary, limits: Limits) -> None:
        self.summary = summary
        self.limits = limits
        self.messages = summary.messages = deque(summary.messages, maxlen=limits.max_messages)

    def add(self, message: Message) -> None:
        messages = self.messages
        if len(messages) == messages.maxlen:
            self.summary.messages_dropped += 1
        messages.append(message)

    def closed(self, side: Side, code: int | None, reason: str, now: float) -> None:
        """Record a close frame; the first side to send one is the side that closed."""
        if self.summary.close is None:
            self.summary.close = Close(code=code, reason=reason, by=side, time=now)


class _Direction:
    """Frame parser state for one direction of one connection."""

    __slots__ = (
        "broken",
        "control",
        "deflate",
        "frame_mask",
        "frame_offset",
        "frame_opcode",
        "frame_remaining",
        "header",
        "inflate_credit",
        "inflater",
        "msg_compressed",
        "msg_fin",
        "msg_frames",
        "msg_length",
        "msg_opcode",
        "msg_preview",
        "msg_time",
        "no_context_takeover",
        "side",
    )

    def __init__(self, side: Side, deflate: Deflate | None) -> None:
        self.side: Side = side
        self.header = bytearray()  # a frame header split across chunks
        self.frame_remaining = 0
        self.frame_opcode = -1  # -1: between frames
        self.frame_mask: bytes | None = None
        self.frame_offset = 0
        self.control = bytearray()
        self.msg_opcode = -1  # -1: no data message in progress
        self.msg_time = 0.0
        self.msg_length = 0
        self.msg_frames = 0
        self.msg_fin = False
        self.msg_compressed = False
        self.msg_preview = bytearray()
        self.broken = False
        self.deflate = deflate is not None
        self.inflater = zlib.decompressobj(-15) if deflate else None
        self.inflate_credit = _INFLATE_RESERVE
        self.no_context_takeover = bool(
            deflate
            and (
                deflate.client_no_context_takeover
                if side == "client"
                else deflate.server_no_context_takeover
            )
        )


class FrameSniffer:
    """Reads the frames of one upgraded connection from the relayed bytes of both directions."""

    def __init__(
        self, summary: WebSocketSummary, limits: Limits, deflate: Deflate | None = None
    ) -> None:
        self.window = MessageWindow(summary, limits)
        self.preview_bytes = limits.preview_bytes
        self._client = _Direction("client", deflate)
        self._server = _Direction("server", deflate)

    def feed(self, side: Side, data: bytes, now: float) -> None:
        """Consume one relayed chunk; frames may start and end anywhere in it."""
        d = self._client if side == "client" else self._server
        if d.broken:
            return
        pos, end = 0, len(data)
        limit = self.preview_bytes
        window = self.window
        counts = window.summary.counts
        while pos < end:
            if d.frame_opcode < 0:
                # Fast path, the common case: a whole small unfragmented uncompressed data frame.
                if not d.header and d.msg_opcode < 0 and end - pos >= 2:
                    b0, b1 = data[pos], data[pos + 1]
                    length = b1 & 0x7F
                    start = pos + (6 if b1 & 0x80 else 2)
                    if (
                        length < 126
                        and b0 & 0xBF in _SMALL_DATA_FRAME
                        and not (b0 & 0x40 and d.deflate)
                        and start + length <= end
                    ):
                        payload = data[start : start + min(length, limit)]
                        if b1 & 0x80:
                            payload = apply_mask(payload, data[start - 4 : start])
                        counts.add(side, length)
                        window.add(
                            Message.of(side, now, b0 & 0x0F, length, payload, length > limit)
                        )
                        pos = start + length
                        continue
                pos = self._read_header(d, data, pos, now)
                if pos < 0:
                    return
                if d.frame_remaining == 0:
                    self._end_frame(d, now)
                continue
            take = min(d.frame_remaining, end - pos)
            self._payload(d, data, pos, take)
            pos += take
            d.frame_remaining -= take
            if d.frame_remaining == 0:
                self._end_frame(d, now)

    def finish(self, dropped_by: Side | None, now: float) -> None:
        """The TCP connection ended; without a close frame before, that is an abnormal close."""
        if self.window.summary.close is None:
            self.window.summary.close = Close(code=1006, reason="", by=dropped_by, time=now)

    # -- frame headers ---------------------------------------------------------------------

    def _read_header(self, d: _Direction, data: bytes, pos: int, now: float) -> int:
        """Parse the frame header at ``pos``; returns the new position, or -1 when data ran out."""
        carried = len(d.header)
        if carried:
            d.header += data[pos : pos + 14 - carried]
            parsed = _parse_header(d.header, 0)
        else:
            parsed = _parse_header(data, pos)
        if parsed is None:
            if not carried:
                d.header += data[pos:]
            return -1
        d.header.clear()
        header_length, b0, length, mask = parsed
        if length >= 1 << 63:  # not a WebSocket frame: keep relaying, stop reading
            d.broken = True
            return -1
        self._start_frame(d, b0, length, mask, now)
        return pos + header_length - carried

    def _start_frame(self, d: _Direction, b0: int, length: int, mask: bytes | None, now: float):
        opcode = b0 & 0x0F
        fin = bool(b0 & 0x80)
        d.frame_opcode = opcode
        d.frame_remaining = length
        d.frame_mask = mask
        d.frame_offset = 0
        if opcode >= OP_CLOSE:
            d.control.clear()
            return
        if opcode == OP_CONTINUATION and d.msg_opcode >= 0:
            d.msg_frames += 1
        else:
            if d.msg_opcode >= 0:  # a new message before the last one ended: report that one
                self._end_message(d, now)
            d.msg_opcode = opcode
            d.msg_time = now
            d.msg_length = 0
            d.msg_frames = 1
            d.msg_compressed = bool(b0 & 0x40) and d.deflate
            d.msg_preview.clear()
        d.msg_fin = fin

    # -- payloads --------------------------------------------------------------------------

    def _payload(self, d: _Direction, data: bytes, pos: int, take: int) -> None:
        if d.frame_opcode >= OP_CLOSE:
            room = _MAX_CONTROL_PAYLOAD - len(d.control)
            if room > 0:
                d.control += self._unmask(d, data[pos : pos + min(take, room)])
            d.frame_offset += take
            return
        d.msg_length += take
        if d.msg_compressed:
            self._inflate(d, self._unmask(d, data[pos : pos + take]))
        else:
            room = self.preview_bytes - len(d.msg_preview)
            if room > 0:
                d.msg_preview += self._unmask(d, data[pos : pos + min(take, room)])
        d.frame_offset += take

    @staticmethod
    def _unmask(d: _Direction, chunk: bytes) -> bytes:
        mask = d.frame_mask
        if mask is None or not chunk:
            return chunk
        shift = d.frame_offset & 3
        if shift:
            mask = mask[shift:] + mask[:shift]
        return apply_mask(chunk, mask)

    def _inflate(self, d: _Direction, chunk: bytes) -> None:
        """Inflate what the preview needs; with context takeover also the rest, within credit."""
        inflater = d.inflater
        if inflater is None:
            return
        room = self.preview_bytes + 1 - len(d.msg_preview)  # one more: to know it was cut
        if d.no_context_takeover:
            budget = room  # the next message starts a fresh context: only the preview matters
        else:
            budget = min(d.inflate_credit, _INFLATE_RESERVE) + _INFLATE_RATIO * len(chunk)
        data = chunk
        try:
            while data and budget > 0:
                out = inflater.decompress(data, min(budget, _INFLATE_STEP))
                budget -= len(out)
                if room > 0:
                    d.msg_preview += out[:room]
                    room = self.preview_bytes + 1 - len(d.msg_preview)
                data = inflater.unconsumed_tail
        except zlib.error:
            d.inflater = None  # a context we cannot follow: keep counting, stop previewing
            return
        if not d.no_context_takeover:
            d.inflate_credit = budget
            if data:  # out of credit: a bomb; counting goes on, previewing stops
                d.inflater = None

    # -- ends ------------------------------------------------------------------------------

    def _end_frame(self, d: _Direction, now: float) -> None:
        opcode = d.frame_opcode
        d.frame_opcode = -1
        if opcode >= OP_CLOSE:
            self._control_frame(d, opcode, bytes(d.control), d.frame_offset, now)
        elif d.msg_fin:
            self._end_message(d, now)

    def _control_frame(self, d: _Direction, opcode: int, payload: bytes, length: int, now: float):
        if opcode == OP_CLOSE:
            code, reason = parse_close(payload)
            self.window.closed(d.side, code, reason, now)
        data = payload[: self.preview_bytes]
        self.window.add(Message.of(d.side, now, opcode, length, data, length > len(data)))

    def _end_message(self, d: _Direction, now: float) -> None:
        if d.msg_compressed and d.inflater is not None:
            self._inflate(d, _INFLATE_TAIL)
            if d.no_context_takeover:
                d.inflater = zlib.decompressobj(-15)
        length = d.msg_length
        d.msg_opcode, opcode = -1, d.msg_opcode
        self.window.summary.counts.add(d.side, length)
        data = bytes(d.msg_preview[: self.preview_bytes])
        # The inflated size of a compressed message is not tracked past the preview; without an
        # inflater (a bomb, a broken context) the preview stopped short of it.
        if d.msg_compressed:
            truncated = d.inflater is None or len(d.msg_preview) > len(data)
        else:
            truncated = length > len(data)
        self.window.add(
            Message.of(
                d.side, d.msg_time, opcode, length, data, truncated, d.msg_frames, d.msg_compressed
            )
        )


def _parse_header(buf: bytes | bytearray, i: int) -> tuple[int, int, int, bytes | None] | None:
    """(header length, first byte, payload length, mask) of the frame at ``i``, or None if cut."""
    available = len(buf) - i
    if available < 2:
        return None
    b1 = buf[i + 1]
    length = b1 & 0x7F
    header_length = (
        2 + (2 if length == 126 else 8 if length == 127 else 0) + (4 if b1 & 0x80 else 0)
    )
    if available < header_length:
        return None
    if length == 126:
        length = int.from_bytes(buf[i + 2 : i + 4], "big")
    elif length == 127:
        length = int.from_bytes(buf[i + 2 : i + 10], "big")
    mask = bytes(buf[i + header_length - 4 : i + header_length]) if b1 & 0x80 else None
    return header_length, buf[i], length, mask
