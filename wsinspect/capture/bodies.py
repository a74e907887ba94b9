"""A response body decoded for display: never more of it than the display keeps.

``BodyTap`` keeps the start of a body the proxy streams on instead of buffering (a refusal can be
a gigabyte, or never end): the client gets every chunk unchanged, the recorder the first ones.

mitmproxy decodes a ``Content-Encoding`` in one go (``get_content``, ``.text``): a 2 MB gzip body
of zeros becomes 2 GB, and the proxy's loop stops for seconds while it does. Here each encoding is
decoded in steps that stop as soon as ``limit + 1`` bytes came out (one more, to know it was cut),
so the work is bounded by the limit, whatever the body would inflate to.

The encodings are those mitmproxy decodes (gzip, deflate, br, zstd); anything else (stacked
encodings, codec names such as ``bz2`` that mitmproxy would also try) is kept as it came.
"""

from __future__ import annotations

import contextlib
import io
import zlib
from collections.abc import Callable

import brotli
import zstandard

GZIP, ZLIB, RAW_DEFLATE = 16 + zlib.MAX_WBITS, zlib.MAX_WBITS, -zlib.MAX_WBITS
_ZSTD_STEP = 16 * 1024
_ZSTD_WINDOW = 8 << 20  # what HTTP's zstd requires of decoders (RFC 9659); larger are refused


class _Undecodable(Exception):
    """Nothing came out: the body is shown as it came, like mitmproxy's ``strict=False``."""


class BodyTap:
    """A ``Response.stream`` callable: passes each chunk on as it came, keeps the first ``keep``
    bytes, and notes whether more went by."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.kept = bytearray()
        self.more = False  # bytes went by that were not kept

    def __call__(self, chunk: bytes) -> bytes:
        room = self.keep - len(self.kept)
        if len(chunk) > room:
            self.more = True
        if room > 0:
            self.kept += chunk[:room]
        return chunk


def decoded_prefix(raw: bytes, content_encoding: str | None, limit: int) -> tuple[bytes, bool]:
    """The first ``limit`` bytes of the decoded body, and whether there was more."""
    decode = _DECODERS.get((content_encoding or "identity").strip().lower())
    out = raw[: limit + 1]
    if decode is not None and raw:
        with contextlib.suppress(_Undecodable):
            out = decode(raw, limit + 1)
    return out[:limit], len(out) > limit


def _identity(raw: bytes, size: int) -> bytes:
    return raw[:size]


def _inflate(raw: bytes, size: int, wbits: int) -> bytes:
    """zlib with ``max_length``: one call never writes more than what is still wanted. Gzip
    bodies may be several members one after another (``gzip.GzipFile`` reads them all)."""
    out = bytearray()
    data = raw
    while data and len(out) < size:
        inflater = zlib.decompressobj(wbits)
        try:
            out += inflater.decompress(data, size - len(out))
        except zlib.error:
            if out:
                break  # trailing garbage after what decoded: keep what did
            raise _Undecodable from None
        if not inflater.eof:
            if not out:
                raise _Undecodable  # it ends before anything came out: a broken body
            break  # the limit was reached, or the body ends early: keep what came out
        data = inflater.unused_data
    return bytes(out)


def _gzip(raw: bytes, size: int) -> bytes:
    return _inflate(raw, size, GZIP)


def _deflate(raw: bytes, size: int) -> bytes:
    """``deflate`` should carry a zlib header; some servers send raw deflate (as mitmproxy)."""
    try:
        return _inflate(raw, size, ZLIB)
    except _Undecodable:
        return _inflate(raw, size, RAW_DEFLATE)


def _brotli(raw: bytes, size: int) -> bytes:
    """brotli's Decompressor (1.1, which mitmproxy pins) has no output limit, and one input byte
    can expand to megabytes; so it is fed a byte at a time: at most one brotli command (<= 16 MiB)
    past the limit, whatever the body holds."""
    decompressor = brotli.Decompressor()
    out = bytearray()
    view = memoryview(raw)
    try:
        for i in range(len(raw)):
            out += decompressor.process(view[i : i + 1])
            if len(out) >= size or decompressor.is_finished():
                break
    except brotli.error:
        if not out:
            raise _Undecodable from None
    if not out and not decompressor.is_finished():
        raise _Undecodable  # it ends before anything came out: a broken body
    return bytes(out[:size])


def _zstd(raw: bytes, size: int) -> bytes:
    """zstandard's stream reader decodes into a buffer of the size asked for, frame after frame;
    the window a frame may ask for is capped too (the decoder allocates it)."""
    decompressor = zstandard.ZstdDecompressor(max_window_size=_ZSTD_WINDOW)
    reader = decompressor.stream_reader(
        io.BytesIO(raw), read_size=_ZSTD_STEP, read_across_frames=True
    )
    out = bytearray()
    try:
        while len(out) < size:
            piece = reader.read(size - len(out))
            if not piece:
                break
            out += piece
        if not out:  # an empty frame, or one cut short (the reader says nothing of that)
            decompressor.decompress(raw, max_output_size=1)
    except zstandard.ZstdError:
        if not out:
            raise _Undecodable from None
    return bytes(out)


_DECODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "identity": _identity,
    "none": _identity,
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": _deflate,
    "deflateraw": _deflate,
    "br": _brotli,
    "zstd": _zstd,
}
