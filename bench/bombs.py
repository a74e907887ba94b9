"""Decompression bombs: what a small compressed body or message costs the proxy; and what a
huge plain one does.

Three bombs of zeros, each a few MB at most, and one plain body:

- a 403 answer to an upgrade with a gzip body (2 MB on the wire, 2 GiB inflated), through the
  real embedded proxy from a raw server to a raw client: wall time until the attempt is
  recorded, CPU time, the longest stall of the proxy's loop, and the growth of peak memory;
- a `.mitm` file holding that flow (1 MB, 1 GiB inflated; written by mitmproxy's FlowWriter),
  read with `wsinspect.sessions.load`;
- a 403 answer to an upgrade with a plain body (300 MB of text, sent a MiB at a time), through
  the real proxy: the same figures; the proxy streams it on and keeps its first 64 KiB;
- a permessage-deflate message (1 MB, 1 GiB inflated) fed to the frame sniffer in 64 KiB chunks
  as mitmproxy relays them, with and without context takeover: CPU per MB on the wire and the
  longest single chunk; a large JSON message beside it for comparison.

Peak memory is VmHWM after resetting it (/proc/self/clear_refs), so Linux only.

Run: python bench/bombs.py [--body-mb 2] [--plain-mb 300] [--file-mb 1] [--message-mb 1]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import re
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

from wsinspect.capture.frames import Deflate, FrameSniffer
from wsinspect.capture.limits import DEFAULT_LIMITS
from wsinspect.capture.proxy import ProxyConfig
from wsinspect.capture.service import Capture
from wsinspect.model import Response, WebSocketSummary
from wsinspect.sessions import load

MiB = 1 << 20
PIECE = 16 * MiB  # one compressed piece of zeros, repeated
UPGRADE = (
    "GET http://{host}/ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n"
)


def status_mb(field: str) -> float:
    status = Path("/proc/self/status").read_text()
    found = re.search(rf"{field}:\s+(\d+) kB", status)
    return int(found.group(1)) / 1024 if found else float("nan")


def reset_peak() -> float:
    """Reset the peak (VmHWM) to the current RSS, and return that."""
    Path("/proc/self/clear_refs").write_text("5")
    return status_mb("VmRSS")


def repeated(piece: bytes, wire_mb: float) -> tuple[bytes, int]:
    """``piece`` (16 MiB of zeros, compressed) repeated to about ``wire_mb``; and the size it
    inflates to."""
    count = max(1, round(wire_mb * 1e6 / len(piece)))
    return piece * count, count * PIECE


def gzip_bomb(wire_mb: float) -> tuple[bytes, int]:
    """Gzip members one after another: every decoder reads them all."""
    return repeated(gzip.compress(bytes(PIECE), compresslevel=9, mtime=0), wire_mb)


def deflate_message(wire_mb: float) -> tuple[bytes, int]:
    """A permessage-deflate payload; the last flush's 00 00 ff ff left off (RFC 7692)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    piece = compressor.compress(bytes(PIECE)) + compressor.flush(zlib.Z_FULL_FLUSH)
    payload, inflated = repeated(piece, wire_mb)
    return payload[:-4], inflated


async def body_through_proxy(wire_mb: float) -> str:
    bomb, inflated = gzip_bomb(wire_mb)
    head = f"HTTP/1.1 403 Forbidden\r\nContent-Encoding: gzip\r\nContent-Length: {len(bomb)}"
    costs, response = await answer_through_proxy(head, len(bomb), lambda: [bomb])
    return (
        f"gzip body through the proxy: {len(bomb) / 1e6:.2f} MB on the wire, "
        f"{inflated / MiB:,.0f} MiB inflated: {costs}; kept "
        f"{len(response.body):,} characters, cut: {response.body_truncated}"
    )


async def plain_body_through_proxy(wire_mb: float) -> str:
    words = b"Forbidden: this origin is not allowed to open a WebSocket here.\n"
    block = (words * (MiB // len(words) + 1))[:MiB]
    count = max(1, round(wire_mb * 1e6 / MiB))
    head = f"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: {count * MiB}"
    costs, response = await answer_through_proxy(head, count * MiB, lambda: [block] * count)
    return (
        f"plain body through the proxy: {count * MiB / 1e6:,.0f} MB: {costs}; kept "
        f"{len(response.body):,} characters, cut: {response.body_truncated}"
    )


async def answer_through_proxy(
    head: str, length: int, body: Callable[[], Iterable[bytes]]
) -> tuple[str, Response]:
    """A raw server answers an upgrade with ``head`` and ``body``, a raw client reads all of it
    through the embedded proxy; what that cost, and the response recorded."""

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(head.encode() + b"\r\n\r\n")
        for piece in body():
            writer.write(piece)
            await writer.drain()
        await reader.read()

    capture = Capture.embedded(ProxyConfig(port=0))
    session = capture.session
    await capture.start()
    origin = await asyncio.start_server(server, "127.0.0.1", 0)
    host = f"127.0.0.1:{origin.sockets[0].getsockname()[1]}"
    stall = 0.0

    async def heartbeat() -> None:
        nonlocal stall
        while True:
            began = time.perf_counter()
            await asyncio.sleep(0.005)
            stall = max(stall, time.perf_counter() - began - 0.005)

    beating = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.1)
    resident, stall = reset_peak(), 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    reader, writer = await asyncio.open_connection("127.0.0.1", capture.port)
    writer.write(UPGRADE.format(host=host).encode())
    await reader.readuntil(b"\r\n\r\n")
    while length > 0:
        length -= len(await reader.read(MiB))
    while not (len(session) and next(iter(session)).response is not None):
        await asyncio.sleep(0.001)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    response = next(iter(session)).response
    assert response is not None
    beating.cancel()
    writer.close()
    origin.close()
    await capture.stop()
    costs = (
        f"{wall:.2f} s, {cpu:.2f} s CPU, longest loop stall {stall * 1000:.0f} ms, "
        f"peak memory +{status_mb('VmHWM') - resident:.0f} MB"
    )
    return costs, response


def flow_file(wire_mb: float) -> str:
    from mitmproxy import http
    from mitmproxy import io as mitmio
    from mitmproxy.test import tflow

    flow = tflow.tflow(resp=True)
    flow.request.headers.update(Upgrade="websocket", Connection="Upgrade")
    flow.response = http.Response.make(403, b"", {"Content-Encoding": "gzip"})
    flow.response.raw_content, inflated = gzip_bomb(wire_mb)
    path = Path(tempfile.mkdtemp(prefix="wsinspect-bombs-")) / "bomb.mitm"
    with path.open("wb") as f:
        mitmio.FlowWriter(f).add(flow)
    del flow
    resident = reset_peak()
    wall, cpu = time.perf_counter(), time.process_time()
    (handshake,) = load(path)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    size = path.stat().st_size
    path.unlink()
    path.parent.rmdir()
    assert handshake.response is not None and handshake.response.body_truncated
    return (
        f".mitm file read: {size / 1e6:.2f} MB, {inflated / MiB:,.0f} MiB inflated: "
        f"{wall:.2f} s, {cpu:.2f} s CPU, peak memory +{status_mb('VmHWM') - resident:.0f} MB"
    )


def sniffed(payload: bytes, first_byte: int, extensions: str) -> tuple[float, float]:
    """(CPU seconds per MB on the wire, longest chunk in ms) for one message."""
    stream = bytes([first_byte, 127]) + len(payload).to_bytes(8, "big") + payload
    sniffer = FrameSniffer(
        WebSocketSummary(), DEFAULT_LIMITS, Deflate.from_response_header(extensions)
    )
    longest, began = 0.0, time.process_time()
    for i in range(0, len(stream), 65535):  # mitmproxy reads at most 65535 bytes at a time
        chunk = time.process_time()
        sniffer.feed("server", stream[i : i + 65535], 1.0)
        longest = max(longest, time.process_time() - chunk)
    return (time.process_time() - began) / (len(payload) / 1e6), longest * 1000


def messages(wire_mb: float) -> list[str]:
    bomb, bomb_inflated = deflate_message(wire_mb)
    text = json.dumps(
        [{"id": i, "name": f"item {i}", "tags": ["a", str(i % 7)]} for i in range(200_000)]
    )
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    deflated = (compressor.compress(text.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    lines = []
    for extensions in ("permessage-deflate", "permessage-deflate; server_no_context_takeover"):
        for what, payload, first_byte, inflated in (
            ("bomb", bomb, 0xC2, bomb_inflated),
            ("JSON", deflated, 0xC1, len(text)),
        ):
            per_mb, longest = sniffed(payload, first_byte, extensions)
            lines.append(
                f"permessage-deflate {what} [{extensions}]: {len(payload) / 1e6:.2f} MB on the "
                f"wire ({inflated / MiB:,.0f} MiB inflated): {per_mb:.3f} s CPU per MB, longest "
                f"chunk {longest:.1f} ms"
            )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--body-mb", type=float, default=2.0, help="gzip body on the wire, MB")
    parser.add_argument("--plain-mb", type=float, default=300.0, help="plain body, MB")
    parser.add_argument("--file-mb", type=float, default=1.0, help=".mitm file, MB")
    parser.add_argument("--message-mb", type=float, default=1.0, help="message on the wire, MB")
    args = parser.parse_args()
    print(asyncio.run(body_through_proxy(args.body_mb)))
    print(asyncio.run(plain_body_through_proxy(args.plain_mb)))
    print(flow_file(args.file_mb))
    print("\n".join(messages(args.message_mb)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
