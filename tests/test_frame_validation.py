"""Frames after the 101 are checked as a browser checks them (issue 16, item 4).

A raw server answers a real websockets client's upgrade, through our real proxy, with a valid
101, one valid frame, then one bad thing; the capture must report that thing once, at its offset,
in Chrome's words. A real websockets conversation with permessage-deflate must report nothing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from tests.conftest import until
from wsinspect.diagnose import diagnosis_of

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
HELLO = b"\x81\x02hi"  # a valid text frame first: the offset of the bad one is 4
MASK = b"\x01\x02\x03\x04"

BAD = {
    "http answer": (
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        "Invalid frame header",
    ),
    "rsv1 without deflate": (
        b"\xc1\x02hi",
        "One or more reserved bits are on: reserved1 = 1, reserved2 = 0, reserved3 = 0",
    ),
    "masked server frame": (
        b"\x81\x82" + MASK + bytes(a ^ b for a, b in zip(b"hi", MASK, strict=False)),
        "A server must not mask any frames that it sends to the client.",
    ),
    "reserved opcode": (b"\x83\x00", "Unrecognized frame opcode: 3"),
    "126-byte ping": (b"\x89\x7e\x00\x7e" + b"p" * 126, "Invalid frame header"),
    "close code 1005": (
        b"\x88\x02\x03\xed",
        "Received a broken close frame containing a reserved status code.",
    ),
    "invalid utf-8 text": (b"\x81\x02\xff\xfe", "Could not decode a text frame as UTF-8."),
}


async def bad_server(then: bytes) -> asyncio.Server:
    """Accepts one upgrade with a valid 101, sends HELLO and ``then``, and waits for the end."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + HELLO + then
        )
        with contextlib.suppress(ConnectionError, asyncio.TimeoutError):
            await asyncio.wait_for(reader.read(1), 5)  # the client's close frame, or its end
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


@pytest.mark.parametrize("name", list(BAD))
async def test_a_bad_frame_after_the_101_is_reported_in_the_browsers_words(capture, name):
    then, words = BAD[name]
    server = await bad_server(then)
    port = server.sockets[0].getsockname()[1]
    try:
        async with connect(
            f"ws://127.0.0.1:{port}/ws", proxy=capture.url, compression=None, open_timeout=5
        ) as ws:
            assert await ws.recv() == "hi"
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.recv(), 1)  # the client fails on the bad frame
        handshake = await capture.one()
        await until(lambda: handshake.websocket and handshake.websocket.close)
    finally:
        server.close()
    ws_summary = handshake.websocket
    assert ws_summary is not None
    (violation,) = ws_summary.violations
    assert (violation.side, violation.offset, violation.browser_words) == ("server", 4, words)
    if name != "invalid utf-8 text":  # a text payload is the application's: its header only
        kept = 128 if then.startswith(b"HTTP/") else 32  # an HTTP answer's headers name a stack
        assert bytes.fromhex(violation.bytes_hex) == then[:kept]
    else:
        assert bytes.fromhex(violation.bytes_hex) == then[:2]
        assert "ff" in violation.reason
    findings = [f for f in diagnosis_of(handshake).findings if f.code == "protocol-violation"]
    assert len(findings) == 1
    finding = findings[0]
    assert finding.evidence["Browser says"] == words
    assert finding.evidence["Offset"] == "byte 4 after the 101"
    assert [f.severity for f in diagnosis_of(handshake).findings].count("error") == 1
    if name == "http answer":
        assert "HTTP/1.1 400 Bad Request" in violation.reason
        assert "two upgrade handlers" in finding.explanation
        assert ws_summary.close is None or ws_summary.close.code != 21584


async def test_a_valid_conversation_with_permessage_deflate_has_no_violation(capture):
    async def echo(ws) -> None:
        async for message in ws:
            await ws.send(message)
            await ws.ping()

    async with serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(
            f"ws://127.0.0.1:{port}/ws", proxy=capture.url, compression="deflate"
        ) as ws:
            for message in ["héllo €𝄞 " * 50, b"\x00\xff" * 300, "", ["frag ", "ment é"]]:
                await ws.send(message)
                await ws.recv()
        handshake = await capture.one()
        await until(lambda: handshake.websocket and handshake.websocket.close)
    ws_summary = handshake.websocket
    assert ws_summary is not None and ws_summary.extensions
    assert ws_summary.violations == []
    assert ws_summary.counts.client_messages == 4 and ws_summary.counts.server_messages == 4
    assert ws_summary.close is not None and ws_summary.close.code == 1000
    assert diagnosis_of(handshake).findings == () or all(
        f.code != "protocol-violation" for f in diagnosis_of(handshake).findings
    )
