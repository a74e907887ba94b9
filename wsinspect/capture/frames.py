"""An RFC 6455 frame sniffer for the bytes mitmproxy relays after a 101.

Why it exists: mitmproxy's own WebSocket layer relays ~1.4k echo messages/s here, its raw TCP relay
~17k/s. So the embedded proxy relays upgraded connections as raw TCP, and this module reads the
frames out of the relayed bytes, per direction and incrementally, without ever buffering a whole
payload: exact counts and sizes, opcodes, fragmentation, the close, and bounded previews. It only
reads; the bytes on the wire are relayed by mitmproxy untouched.

It checks the frames as a browser does, because a browser fails the connection on the first bad
frame and the page only sees close 1006: the first violation of a direction is recorded (where,
which bytes, Chrome's words) and that direction is read no further. Text is checked for UTF-8
in full, except a compressed message's: only its inflated preview, since inflating all of it
is what the bomb budget below refuses.
"""

from __future__ import annotations

import codecs
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
    Violation,
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
_TEXT_FRAME = 0x80 | OP_TEXT  # FIN, no reserved bit
_SMALL_DATA_FRAME = frozenset({_TEXT_FRAME, 0x80 | OP_BINARY})
_DATA_STARTS = frozenset({OP_TEXT, OP_BINARY})
_CONTROL = frozenset({OP_CLOSE, 0x9, 0xA})  # the known control opcodes (ping, pong)
_RESERVED_OPCODES = frozenset({*range(0x3, 0x8), *range(0xB, 0x10)})
_VALID_CLOSE_CODES = frozenset({*range(1000, 1004), *range(1007, 1015), *range(3000, 5000)})
_KEPT_BYTES = 32  # of a bad frame: its header and, say, "HTTP/1.1 503 Service Unavailable"
# of an HTTP answer where a frame belongs: its headers name the server (engine.io's abortUpgrade),
# and a control frame's payload (all the capture ever kept of one) is as long
_KEPT_HTTP = 128
_Utf8 = codecs.getincrementaldecoder("utf-8")

# What Chrome (net/websockets) logs when it fails the connection, as the console shows it after
# "WebSocket connection to '…' failed: ".
INVALID_HEADER = "Invalid frame header"
SERVER_MASKED = "A server must not mask any frames that it sends to the client."
RESERVED_BITS = "One or more reserved bits are on: reserved1 = {}, reserved2 = {}, reserved3 = {}"
UNKNOWN_OPCODE = "Unrecognized frame opcode: {}"
UNEXPECTED_CONTINUATION = "Received unexpected continuation frame."
UNFINISHED_MESSAGE = "Received start of new message but previous message is unfinished."
BAD_UTF8 = "Could not decode a text frame as UTF-8."
CLOSE_SIZE_ONE = "Received a broken close frame with an invalid size of 1 byte."
CLOSE_RESERVED_CODE = "Received a broken close frame containing a reserved status code."
CLOSE_BAD_UTF8 = "Received a broken close frame containing invalid UTF-8."


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
        "base",
        "broken",
        "check_rsv",
        "control",
        "deflate",
        "frame_head",
        "frame_header_length",
        "frame_mask",
        "frame_offset",
        "frame_opcode",
        "frame_remaining",
        "frame_start",
        "header",
        "inflate_credit",
        "inflater",
        "mask_bit",
        "msg_compressed",
        "msg_fin",
        "msg_frames",
        "msg_length",
        "msg_opcode",
        "msg_preview",
        "msg_time",
        "no_context_takeover",
        "seen",
        "side",
        "utf8",
    )

    def __init__(self, side: Side, deflate: Deflate | None, check_rsv: bool) -> None:
        self.side: Side = side
        self.mask_bit = 0x80 if side == "client" else 0  # clients mask every frame, servers none
        self.check_rsv = check_rsv
        self.seen = 0  # this direction's bytes so far
        self.base = 0  # and before the chunk being read
        self.frame_start = 0  # the frame's offset in this direction's bytes
        self.frame_head = b""  # its first bytes, kept for a violation found in its payload
        self.frame_header_length = 0
        self.utf8: codecs.IncrementalDecoder | None = None  # of an uncompressed text message
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
        # An extension other than permessage-deflate may use the reserved bits in ways unknown
        # here (browsers negotiate none): then they are not checked.
        check_rsv = all(
            e.split(";")[0].strip().lower() == "permessage-deflate" for e in summary.extensions
        )
        self._client = _Direction("client", deflate, check_rsv)
        self._server = _Direction("server", deflate, check_rsv)

    def feed(self, side: Side, data: bytes, now: float) -> None:
        """Consume one relayed chunk; frames may start and end anywhere in it."""
        d = self._client if side == "client" else self._server
        if d.broken:
            return
        pos, end = 0, len(data)
        d.base, d.seen = d.seen, d.seen + end
        limit = self.preview_bytes
        mask_bit = d.mask_bit
        window = self.window
        counts = window.summary.counts
        while pos < end:
            if d.frame_opcode < 0:
                # Fast path, the common case: a whole small unfragmented uncompressed data frame,
                # masked as its direction must be; a text frame's UTF-8 is checked by decoding it.
                if not d.header and d.msg_opcode < 0 and end - pos >= 2:
                    b0, b1 = data[pos], data[pos + 1]
                    length = b1 & 0x7F
                    start = pos + (6 if b1 & 0x80 else 2)
                    if (
                        length < 126
                        and b0 in _SMALL_DATA_FRAME
                        and b1 & 0x80 == mask_bit
                        and length <= limit
                        and start + length <= end
                    ):
                        payload = data[start : start + length]
                        if mask_bit:
                            payload = apply_mask(payload, data[start - 4 : start])
                        message = Message.of(side, now, b0 & 0x0F, length, payload)
                        if b0 == _TEXT_FRAME and message.preview_encoding != "text":
                            d.frame_start, d.frame_header_length = d.base + pos, start - pos
                            d.frame_head = bytes(data[pos : pos + _KEPT_BYTES])
                            self._bad_utf8(d, _undecodable(payload))
                            return
                        counts.add(side, length)
                        window.add(message)
                        pos = start + length
                        continue
                pos = self._read_header(d, data, pos, now)
                if pos < 0:
                    return
                if d.frame_remaining == 0:
                    self._end_frame(d, now)
                    if d.broken:
                        return
                continue
            take = min(d.frame_remaining, end - pos)
            self._payload(d, data, pos, take)
            pos += take
            d.frame_remaining -= take
            if d.frame_remaining == 0 and not d.broken:
                self._end_frame(d, now)
            if d.broken:
                return

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
        header_length, b0, length, mask = parsed
        d.frame_start = d.base + pos - carried
        d.frame_head = bytes(d.header[:carried]) + data[pos : pos + _KEPT_HTTP - carried]
        d.frame_header_length = header_length
        d.header.clear()
        fault = self._header_fault(d, b0, length, mask is not None)
        if fault is not None:  # a browser fails the connection here: keep relaying, stop reading
            self._violate(d, *fault)
            return -1
        self._start_frame(d, b0, length, mask, now)
        return pos + header_length - carried

    def _header_fault(
        self, d: _Direction, b0: int, length: int, masked: bool
    ) -> tuple[str, str] | None:
        """(what is wrong, Chrome's words) with a frame's header, checked in Chrome's order."""
        opcode = b0 & 0x0F
        if opcode in _CONTROL and not b0 & 0x80:
            return f"a control frame (opcode {opcode:#x}) without FIN: fragmented", INVALID_HEADER
        if opcode in _CONTROL and length > _MAX_CONTROL_PAYLOAD:
            return f"a control frame (opcode {opcode:#x}) of {length} bytes (at most 125)", (
                INVALID_HEADER
            )
        if length >= 1 << 63:
            return "a payload length with its most significant bit set", INVALID_HEADER
        if masked != bool(d.mask_bit):
            if masked:
                return "a masked frame from the server (servers must not mask)", SERVER_MASKED
            return "an unmasked frame from the client (clients must mask every frame)", ""
        rsv = b0 & 0x70
        if rsv and d.check_rsv and not (rsv == 0x40 and d.deflate and opcode in _DATA_STARTS):
            return _rsv_reason(rsv, opcode, d.deflate), RESERVED_BITS.format(
                int(bool(rsv & 0x40)), int(bool(rsv & 0x20)), int(bool(rsv & 0x10))
            )
        if opcode in _RESERVED_OPCODES:
            return f"the reserved opcode {opcode:#x}", UNKNOWN_OPCODE.format(opcode)
        if opcode == OP_CONTINUATION and d.msg_opcode < 0:
            return "a continuation frame with no message to continue", UNEXPECTED_CONTINUATION
        if opcode in _DATA_STARTS and d.msg_opcode >= 0:
            return "a new message while the last one awaits its final fragment", (
                UNFINISHED_MESSAGE
            )
        return None

    def _violate(self, d: _Direction, reason: str, words: str) -> None:
        """Record the first violation of this direction; it is read no further."""
        if d.frame_head.startswith(b"HTTP/"):
            line = d.frame_head.split(b"\r", 1)[0].decode("latin-1")
            reason = f"an HTTP answer ({line}) where a frame belongs: {reason}"
        else:
            d.frame_head = d.frame_head[:_KEPT_BYTES]
        violation = Violation(d.side, d.frame_start, reason, d.frame_head.hex(" "), words)
        self.window.summary.violations.append(violation)
        d.broken = True
        d.msg_preview.clear()
        d.control.clear()
        d.utf8 = None

    def _bad_utf8(self, d: _Direction, bad: bytes) -> None:
        """A text message that is not UTF-8; only the frame's header is kept (its payload is the
        application's: it may hold a secret), and the bytes that do not decode."""
        d.frame_head = d.frame_head[: d.frame_header_length]
        where = f": the bytes {bad.hex(' ')} do not decode" if bad else " (it ends mid-character)"
        self._violate(d, f"a text message that is not UTF-8{where}", BAD_UTF8)

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
        if opcode == OP_CONTINUATION:  # _header_fault made sure a message is in progress
            d.msg_frames += 1
        else:
            d.msg_opcode = opcode
            d.msg_time = now
            d.msg_length = 0
            d.msg_frames = 1
            d.msg_compressed = bool(b0 & 0x40) and d.deflate
            d.msg_preview.clear()
            d.utf8 = _Utf8() if opcode == OP_TEXT and not d.msg_compressed else None
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
        elif d.utf8 is not None:  # text: every byte is checked, so every byte is unmasked
            chunk = self._unmask(d, data[pos : pos + take])
            try:
                d.utf8.decode(chunk)
            except UnicodeDecodeError as error:
                self._bad_utf8(d, error.object[error.start : error.end])
                return
            room = self.preview_bytes - len(d.msg_preview)
            if room > 0:
                d.msg_preview += chunk[:room]
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
            fault = _close_fault(payload)
            if fault is not None:
                self._violate(d, *fault)
                return
            code, reason = parse_close(payload)
            self.window.closed(d.side, code, reason, now)
        data = payload[: self.preview_bytes]
        self.window.add(Message.of(d.side, now, opcode, length, data, length > len(data)))
        if opcode == OP_CLOSE:  # the last frame of this direction: what follows is discarded, as
            d.broken = True  # a browser does (Werkzeug writes its view's HTTP answer after it)

    def _end_message(self, d: _Direction, now: float) -> None:
        if d.msg_compressed and d.inflater is not None:
            self._inflate(d, _INFLATE_TAIL)
            if d.no_context_takeover:
                d.inflater = zlib.decompressobj(-15)
        if d.utf8 is not None:
            try:
                d.utf8.decode(b"", True)
            except UnicodeDecodeError as error:
                self._bad_utf8(d, error.object[error.start : error.end])
                return
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
        message = Message.of(
            d.side, d.msg_time, opcode, length, data, truncated, d.msg_frames, d.msg_compressed
        )
        if opcode == OP_TEXT and d.msg_compressed and message.preview_encoding != "text":
            self._bad_utf8(d, _undecodable(data))  # in the inflated preview: all that is checked
            return
        self.window.add(message)


def _rsv_reason(rsv: int, opcode: int, deflate: bool) -> str:
    if rsv != 0x40:
        return "RSV2 or RSV3 set: no extension that defines them was negotiated"
    if not deflate:
        return "RSV1 set (a compressed message) though the 101 did not accept permessage-deflate"
    kind = "a continuation" if opcode == OP_CONTINUATION else f"an opcode {opcode:#x}"
    return f"RSV1 on {kind} frame: only a data message's first frame may say it is compressed"


def _close_fault(payload: bytes) -> tuple[str, str] | None:
    """What is wrong with a close frame's payload (all of it: at most 125 bytes), if anything."""
    if len(payload) == 1:
        return "a close frame with a 1-byte payload (a code takes 2)", CLOSE_SIZE_ONE
    if len(payload) < 2:
        return None
    code = int.from_bytes(payload[:2], "big")
    if code not in _VALID_CLOSE_CODES:
        return f"the close code {code}, which no endpoint may send", CLOSE_RESERVED_CODE
    bad = _undecodable(payload[2:])
    if bad:
        return f"a close reason that is not UTF-8 (the bytes {bad.hex(' ')})", CLOSE_BAD_UTF8
    return None


def _undecodable(data: bytes) -> bytes:
    """The first bytes of ``data`` that are not UTF-8 (a character cut at the end included)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.object[error.start : error.end] or b"?"
    return b""


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
