"""Decompression bombs: a few hundred KB that inflate to hundreds of MB cost the proxy little;
and a refusal hundreds of MB long is relayed whole, of which the proxy holds no more than it keeps.

Each bomb here inflates to 256-512 MiB: enough that decoding it in full costs seconds of CPU and
hundreds of MB (it did before bodies were decoded with a cap on the output), small enough that
the failing variant does not take the machine down. What is measured is this process's CPU time
and its peak resident memory (VmHWM, reset before each bomb), so another busy process on the
machine does not decide the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import brotli
import h11
import pytest
import zstandard
from mitmproxy import http
from mitmproxy import io as mitmio
from mitmproxy.net import encoding
from mitmproxy.test import tflow
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from tests.conftest import Capture, until
from wsinspect.capture.bodies import decoded_prefix
from wsinspect.capture.limits import BODY_LIMIT
from wsinspect.sessions import load

MiB = 1 << 20
PIECE = 16 * MiB  # bombs are one compressed piece of zeros repeated: cheap to build
CPU_BUDGET = 0.3  # seconds; inflating 256 MiB of zeros takes ~1 s
MEMORY_BUDGET = 32 * MiB


@cache
def gzip_bomb(inflated: int) -> bytes:
    """Gzip members may follow one another; every decoder reads them all."""
    return gzip.compress(bytes(PIECE), compresslevel=9, mtime=0) * (inflated // PIECE)


@cache
def raw_deflate_pieces(inflated: int) -> tuple[bytes, bytes]:
    """Raw deflate of zeros, a full flush after each piece (so they repeat), and a last block."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    piece = compressor.compress(bytes(PIECE)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return piece * (inflated // PIECE), compressor.flush()


def deflate_bomb(inflated: int) -> bytes:
    """A permessage-deflate payload: the 00 00 ff ff of the last flush left off (RFC 7692)."""
    return raw_deflate_pieces(inflated)[0][:-4]


def zlib_bomb(inflated: int) -> bytes:
    """``Content-Encoding: deflate``: the same inside a zlib header and checksum."""
    pieces, last = raw_deflate_pieces(inflated)
    checksum = 1
    for _ in range(inflated // PIECE):
        checksum = zlib.adler32(bytes(PIECE), checksum)
    return b"\x78\xda" + pieces + last + checksum.to_bytes(4, "big")


@dataclass
class Cost:
    cpu: float = 0.0
    peak_growth: int = 0


def status_kb(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", status).group(1))


@contextlib.contextmanager
def measured() -> Iterator[Cost]:
    """This process's CPU time and the growth of its peak resident memory while inside."""
    cost = Cost()
    resident = status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from here
    began = time.process_time()
    yield cost
    cost.cpu = time.process_time() - began
    cost.peak_growth = (status_kb("VmHWM") - resident) * 1024


def frame(first_byte: int, payload: bytes) -> bytes:
    """A server's (unmasked) frame with a 64-bit length."""
    return bytes([first_byte, 127]) + len(payload).to_bytes(8, "big") + payload


async def healthy_echoes(capture: Capture, stop: asyncio.Event) -> int:
    """A WebSocket through the same proxy, echoing all along; how many echoes came back."""

    async def echo(ws) -> None:
        async for message in ws:
            await ws.send(message)

    echoed = 0
    async with serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/", proxy=capture.url) as ws:
            while not stop.is_set() or echoed == 0:
                await ws.send(f"ping {echoed}")
                assert await asyncio.wait_for(ws.recv(), 2) == f"ping {echoed}"
                echoed += 1
                await asyncio.sleep(0.01)
    return echoed


SWITCHING = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
)


async def through_the_proxy(capture: Capture, answer: bytes) -> bytes:
    """A raw server sends ``answer`` to an upgrade request; what the client got back."""

    async def send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()
        with contextlib.suppress(ConnectionError):
            await reader.read()  # until the client leaves

    server = await asyncio.start_server(send, "127.0.0.1", 0)
    host = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    reader, writer = await asyncio.open_connection("127.0.0.1", capture.port)
    writer.write(
        f"GET http://{host}/ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n".encode()
    )
    try:
        return await asyncio.wait_for(reader.readexactly(len(answer)), 30)
    finally:
        writer.close()
        server.close()


async def test_a_gzip_bomb_refusal_is_cut_at_64_kib_while_the_proxy_keeps_serving(capture):
    bomb = gzip_bomb(256 * MiB)
    head = (
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(bomb)}\r\n\r\n"
    )
    stop = asyncio.Event()
    echoes = asyncio.create_task(healthy_echoes(capture, stop))
    await until(lambda: len(capture.session) == 1)  # the healthy WebSocket is up
    with measured() as cost:
        received = await through_the_proxy(capture, head.encode() + bomb)
        await until(lambda: len(capture.session) == 2)
    stop.set()
    assert await echoes > 0
    assert received.endswith(bomb)  # relayed as it came, compressed
    refusal = next(h for h in capture.session if h.status == 403)
    assert refusal.response.body == "\0" * BODY_LIMIT
    assert refusal.response.body_truncated
    assert cost.cpu < CPU_BUDGET, f"{cost.cpu:.2f} s of CPU for a {len(bomb):,}-byte body"
    assert cost.peak_growth < MEMORY_BUDGET, f"peak memory grew {cost.peak_growth / MiB:.0f} MB"


async def test_a_flow_file_holding_a_gzip_bomb_is_read_in_bounded_memory(tmp_path):
    flow = tflow.tflow(resp=True)
    flow.request.headers.update(Upgrade="websocket", Connection="Upgrade")
    flow.response = http.Response.make(403, b"", {"Content-Encoding": "gzip"})
    flow.response.raw_content = gzip_bomb(256 * MiB)  # as it came on the wire
    path = tmp_path / "bomb.mitm"
    with path.open("wb") as f:
        mitmio.FlowWriter(f).add(flow)
    with measured() as cost:
        (handshake,) = load(path)
    assert handshake.status == 403
    assert handshake.response.body == "\0" * BODY_LIMIT
    assert handshake.response.body_truncated
    assert cost.cpu < CPU_BUDGET, f"{cost.cpu:.2f} s of CPU for a {path.stat().st_size:,}-byte file"
    assert cost.peak_growth < MEMORY_BUDGET, f"peak memory grew {cost.peak_growth / MiB:.0f} MB"


async def test_a_permessage_deflate_bomb_is_counted_and_previewed_not_inflated(capture):
    bomb = deflate_bomb(512 * MiB)
    after = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    small = (after.compress(b"after") + after.flush(zlib.Z_SYNC_FLUSH))[:-4]
    answer = (
        SWITCHING
        + frame(0xC2, bomb)  # FIN, RSV1 (compressed), binary
        + frame(0xC1, small)
        + bytes([0x88, 2]) + (1000).to_bytes(2, "big")
    )  # fmt: skip
    stop = asyncio.Event()
    echoes = asyncio.create_task(healthy_echoes(capture, stop))
    await until(lambda: len(capture.session) == 1)
    with measured() as cost:
        received = await through_the_proxy(capture, answer)
        handshake = next(h for h in capture.session if h.status == 101 and h.url.endswith("/ws"))
        await until(lambda: handshake.websocket.close is not None)
    stop.set()
    assert await echoes > 0
    assert received == answer  # every byte relayed unchanged
    ws = handshake.websocket
    assert (ws.counts.server_messages, ws.counts.server_bytes) == (2, len(bomb) + len(small))
    first, second, _close = ws.messages
    assert first.compressed and first.truncated and first.length == len(bomb)
    assert first.data == bytes(512)  # the preview: the first --preview-bytes, inflated
    assert second.compressed and second.length == len(small)
    assert ws.close.code == 1000
    assert cost.cpu < CPU_BUDGET, f"{cost.cpu:.2f} s of CPU for a {len(bomb):,}-byte message"


TEXT = b"".join(b"<p>%d: this origin is not allowed here</p>\n" % i for i in range(2000))


@pytest.mark.parametrize("name", ["gzip", "x-gzip", "deflate", "br", "zstd", "identity"])
def test_each_encoding_mitmproxy_decodes_is_decoded_up_to_the_limit(name):
    body = encoding.encode(TEXT, name.removeprefix("x-"))
    assert decoded_prefix(body, name, BODY_LIMIT) == (TEXT[:BODY_LIMIT], True)
    assert decoded_prefix(body, name.upper(), len(TEXT)) == (TEXT, False)


BOMBS = {
    "gzip": lambda: gzip_bomb(256 * MiB),
    "deflate": lambda: zlib_bomb(256 * MiB),
    "br": lambda: brotli.compress(bytes(256 * MiB), quality=1),
    "zstd": lambda: zstandard.ZstdCompressor(level=1).compress(bytes(256 * MiB)),
}


@pytest.mark.parametrize("name", BOMBS)
def test_a_bomb_in_any_encoding_is_cut_without_inflating_it(name):
    bomb = BOMBS[name]()
    with measured() as cost:
        body, cut = decoded_prefix(bomb, name, BODY_LIMIT)
    assert (body, cut) == (bytes(BODY_LIMIT), True)
    assert cost.cpu < CPU_BUDGET, f"{cost.cpu:.2f} s of CPU"
    assert cost.peak_growth < MEMORY_BUDGET, f"peak memory grew {cost.peak_growth / MiB:.0f} MB"


@pytest.mark.parametrize(
    "body, content_encoding",
    [
        (b"not gzip at all", "gzip"),  # broken: shown as it came, like mitmproxy does
        (b"\x1f\x8b", "gzip"),  # it ends before anything came out
        (brotli.compress(TEXT)[:3], "br"),
        (zstandard.ZstdCompressor().compress(TEXT)[:5], "zstd"),
        (b"plain", "bz2"),  # a codec name mitmproxy would try: not an HTTP coding
        (gzip.compress(b"twice"), "gzip, br"),  # stacked codings: kept as they came
        (b"", "gzip"),
    ],
)
def test_what_cannot_be_decoded_is_kept_as_it_came(body, content_encoding):
    assert decoded_prefix(body, content_encoding, BODY_LIMIT) == (body, False)


def test_a_truncated_gzip_body_shows_what_did_arrive():
    body = gzip.compress(TEXT)
    assert decoded_prefix(body[: len(body) // 2], "gzip", BODY_LIMIT)[0].startswith(TEXT[:1000])


HUGE = 300 * MiB


def huge_body() -> Iterator[bytes]:
    """300 MB of an error page's words, a MiB at a time, each numbered (so that a lost, repeated
    or reordered one changes the digest); never all of it in memory."""
    words = b"Forbidden: this origin is not allowed to open a WebSocket here.\n"
    block = (words * (MiB // len(words) + 1))[:MiB]
    for number in range(HUGE // MiB):
        yield b"%010d" % number + block[10:]


async def huge_refusal(chunked: bool, sent: hashlib._Hash) -> asyncio.Server:
    """A server answering any upgrade with a 403 and the huge body, hashing what it sends."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {HUGE}"
        writer.write(
            f"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n{framing}\r\n\r\n".encode()
        )
        for piece in huge_body():
            sent.update(piece)
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            await writer.drain()
        writer.write(b"0\r\n\r\n" if chunked else b"")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
            await reader.read()  # until the client leaves

    return await asyncio.start_server(answer, "127.0.0.1", 0)


async def read_answer(capture: Capture, port: int) -> tuple[int, hashlib._Hash]:
    """An upgrade request through the proxy; the status and a digest of the body that came."""
    reader, writer = await asyncio.open_connection("127.0.0.1", capture.port)
    host = f"127.0.0.1:{port}"
    client = h11.Connection(h11.CLIENT)
    request = h11.Request(
        method="GET",
        target=f"http://{host}/huge",
        headers=[
            ("Host", host),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ],
    )
    head, end = client.send(request), client.send(h11.EndOfMessage())
    assert head is not None and end is not None  # None only for a ConnectionClosed
    writer.write(head + end)
    status, received = 0, hashlib.sha256()
    try:
        while not isinstance(event := client.next_event(), h11.EndOfMessage):
            if event is h11.NEED_DATA:
                client.receive_data(await asyncio.wait_for(reader.read(MiB), 10))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                received.update(event.data)
    finally:
        writer.close()
    return status, received


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_huge_plain_refusal_is_relayed_whole_and_the_proxy_holds_only_64_kib(
    capture, chunked
):
    sent = hashlib.sha256()
    server = await huge_refusal(chunked, sent)
    stop = asyncio.Event()
    echoes = asyncio.create_task(healthy_echoes(capture, stop))
    await until(lambda: len(capture.session) == 1)  # the healthy WebSocket is up
    try:
        with measured() as cost:
            began = time.monotonic()
            status, received = await read_answer(capture, server.sockets[0].getsockname()[1])
            refusal = next(h for h in capture.session if h.url.endswith("/huge"))
            await until(lambda: refusal.status == 403)
            took = time.monotonic() - began
    finally:
        server.close()
    stop.set()
    assert await echoes > 0
    assert status == 403
    assert received.hexdigest() == sent.hexdigest()  # every byte of the body, unchanged
    first = next(huge_body())[:BODY_LIMIT].decode()
    assert refusal.response.body == first
    assert refusal.response.body_truncated
    assert cost.peak_growth < MEMORY_BUDGET, (
        f"peak memory grew {cost.peak_growth / MiB:.0f} MB relaying {HUGE / MiB:.0f} MB"
        f" in {took:.1f} s"
    )


async def test_a_refusal_whose_body_never_ends_costs_the_proxy_64_kib_until_the_client_leaves(
    capture,
):
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            while True:  # not itertools.cycle: it would keep a copy of each piece
                for piece in huge_body():
                    writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    await writer.drain()

    server = await asyncio.start_server(endless, "127.0.0.1", 0)
    host = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        with measured() as cost:
            reader, writer = await asyncio.open_connection("127.0.0.1", capture.port)
            writer.write(
                f"GET http://{host}/endless HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            status_line = await asyncio.wait_for(reader.readline(), 2)  # held whole: never
            assert status_line.startswith(b"HTTP/1.1 403")
            received = 0
            while received < 100 * MiB:
                received += len(await asyncio.wait_for(reader.read(MiB), 10))
            writer.close()  # the client gives up
            handshake = await capture.one()
            await until(lambda: handshake.status == 403)
    finally:
        server.close()
    assert "the client left before the body ended" in handshake.error
    assert len(handshake.response.body) == BODY_LIMIT and handshake.response.body_truncated
    assert cost.peak_growth < MEMORY_BUDGET, f"peak memory grew {cost.peak_growth / MiB:.0f} MB"
