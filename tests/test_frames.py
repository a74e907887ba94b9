"""The frame sniffer reads what real WebSocket peers put on the wire, however TCP cuts it."""

from __future__ import annotations

import base64
import json
import os
import time

import pytest
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Close, CloseCode, Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from tests.test_bombs import deflate_bomb, frame
from wsinspect.capture.frames import Deflate, FrameSniffer
from wsinspect.capture.limits import DEFAULT_LIMITS, Limits
from wsinspect.model import WebSocketSummary, to_builtins

DEFLATE_NO_CONTEXT = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"


def connected_pair(client_extensions=(), server_extensions=()):
    """A real websockets client and server after a real handshake, plus the 101's extensions."""
    client = ClientProtocol(parse_uri("ws://example.test/"), extensions=list(client_extensions))
    server = ServerProtocol(extensions=list(server_extensions))
    client.send_request(client.connect())
    server.receive_data(b"".join(client.data_to_send()))
    (request,) = server.events_received()
    assert isinstance(request, Request)
    response = server.accept(request)
    server.send_response(response)
    client.receive_data(b"".join(server.data_to_send()))
    assert client.handshake_exc is None
    return client, server, response.headers.get("Sec-WebSocket-Extensions")


def sniff(chunks_by_side, limits=DEFAULT_LIMITS, deflate=None) -> WebSocketSummary:
    summary = WebSocketSummary()
    sniffer = FrameSniffer(summary, limits, deflate)
    for side, chunk in chunks_by_side:
        sniffer.feed(side, chunk, 1.0)
    return summary


def drain(peer) -> bytes:
    return b"".join(peer.data_to_send())


def masked(frame: Frame) -> bytes:
    return frame.serialize(mask=True, extensions=[])


def unmasked(frame: Frame) -> bytes:
    return frame.serialize(mask=False, extensions=[])


# A client stream with every shape of frame: small, 16- and 64-bit lengths, a fragmented message
# with a ping between its fragments, an empty message and a close with a reason.
BIG = os.urandom(70_000)
CLIENT_STREAM = b"".join(
    [
        masked(Frame(Opcode.TEXT, "héllo wörld".encode())),
        masked(Frame(Opcode.BINARY, bytes(range(256)) + b"x" * 44)),  # 300 bytes: 16-bit length
        masked(Frame(Opcode.TEXT, b"part one, ", fin=False)),
        masked(Frame(Opcode.PING, b"are you there")),
        masked(Frame(Opcode.CONT, b"part two, ", fin=False)),
        masked(Frame(Opcode.CONT, b"the end", fin=True)),
        masked(Frame(Opcode.TEXT, b"")),
        masked(Frame(Opcode.CLOSE, Close(CloseCode.GOING_AWAY, "tab closed").serialize())),
    ]
)


def describe(summary: WebSocketSummary):
    return (
        to_builtins(summary.counts),
        [to_builtins(m) for m in summary.messages],
        summary.close and to_builtins(summary.close),
    )


def test_every_frame_shape_is_read():
    summary = sniff([("client", CLIENT_STREAM)])
    messages = list(summary.messages)
    assert [(m.opcode, m.length, m.frames) for m in messages] == [
        (1, len("héllo wörld".encode()), 1),
        (2, 300, 1),
        (9, 13, 1),  # the ping arrives inside the fragmented message and is reported first
        (1, 27, 3),
        (1, 0, 1),
        (8, 12, 1),
    ]
    assert messages[0].preview == "héllo wörld"
    assert messages[1].preview_encoding == "base64"
    assert base64.b64decode(messages[1].preview) == bytes(range(256)) + b"x" * 44
    assert messages[2].preview == "are you there"
    assert messages[3].preview == "part one, part two, the end"
    assert summary.counts.client_messages == 4  # data messages only; control frames are listed
    assert summary.counts.client_bytes == len("héllo wörld".encode()) + 300 + 27
    assert summary.close is not None
    assert (summary.close.code, summary.close.reason, summary.close.by) == (
        1001,
        "tab closed",
        "client",
    )


def test_split_at_every_byte_boundary_reads_the_same():
    whole = describe(sniff([("client", CLIENT_STREAM)]))
    for cut in range(1, len(CLIENT_STREAM)):
        parts = [("client", CLIENT_STREAM[:cut]), ("client", CLIENT_STREAM[cut:])]
        assert describe(sniff(parts)) == whole, f"differs when cut at byte {cut}"


def test_one_byte_at_a_time_reads_the_same():
    whole = describe(sniff([("client", CLIENT_STREAM)]))
    dribble = [("client", CLIENT_STREAM[i : i + 1]) for i in range(len(CLIENT_STREAM))]
    assert describe(sniff(dribble)) == whole


def test_64_bit_length_and_preview_bounds():
    stream = unmasked(Frame(Opcode.BINARY, BIG)) + unmasked(Frame(Opcode.TEXT, b"after"))
    limits = Limits(preview_bytes=16, max_messages=10)
    summary = sniff([("server", stream[i : i + 1000]) for i in range(0, len(stream), 1000)], limits)
    big, after = summary.messages
    assert (big.length, big.truncated) == (70_000, True)
    assert base64.b64decode(big.preview) == BIG[:16]
    assert (after.preview, after.truncated) == ("after", False)
    assert summary.counts.server_bytes == 70_005


def test_counts_stay_exact_when_previews_are_dropped():
    stream = b"".join(masked(Frame(Opcode.TEXT, f"message {i}".encode())) for i in range(50))
    summary = sniff([("client", stream)], Limits(preview_bytes=64, max_messages=5))
    assert summary.counts.client_messages == 50
    assert [m.preview for m in summary.messages] == [f"message {i}" for i in range(45, 50)]
    assert summary.messages_dropped == 45


def test_text_preview_never_ends_in_half_a_character():
    summary = sniff([("server", unmasked(Frame(Opcode.TEXT, "ééééé".encode())))], Limits(5, 10))
    (message,) = summary.messages
    assert (message.preview, message.preview_encoding, message.truncated) == ("éé", "text", True)


def test_close_without_reason_and_without_status():
    stream = unmasked(Frame(Opcode.CLOSE, Close(CloseCode.NORMAL_CLOSURE, "").serialize()))
    summary = sniff([("server", stream), ("client", masked(Frame(Opcode.CLOSE, b"")))])
    assert (summary.close.code, summary.close.reason, summary.close.by) == (1000, "", "server")
    no_status = sniff([("client", masked(Frame(Opcode.CLOSE, b"")))])
    assert (no_status.close.code, no_status.close.by) == (None, "client")


def test_connection_dropped_without_close_frame_is_abnormal():
    summary = WebSocketSummary()
    sniffer = FrameSniffer(summary, Limits())
    sniffer.feed("server", unmasked(Frame(Opcode.TEXT, b"bye")), 1.0)
    sniffer.finish("server", 2.0)
    assert (summary.close.code, summary.close.by, summary.close.time) == (1006, "server", 2.0)


@pytest.mark.parametrize(
    "client_factory, server_factory, context_takeover",
    [
        (ClientPerMessageDeflateFactory(), ServerPerMessageDeflateFactory(), True),
        (
            ClientPerMessageDeflateFactory(
                server_no_context_takeover=True, client_no_context_takeover=True
            ),
            ServerPerMessageDeflateFactory(
                server_no_context_takeover=True, client_no_context_takeover=True
            ),
            False,
        ),
    ],
    ids=["context-takeover", "no-context-takeover"],
)
def test_permessage_deflate_from_real_peers(client_factory, server_factory, context_takeover):
    client, server, extensions = connected_pair([client_factory], [server_factory])
    deflate = Deflate.from_response_header(extensions)
    assert deflate is not None
    assert deflate.server_no_context_takeover is (not context_takeover)

    texts = ["the same words again and again " * 4 for _ in range(5)] + ["ünïcode ✓"]
    chunks = []
    for text in texts:
        client.send_text(text.encode())
        sent = drain(client)
        server.receive_data(sent)
        server.send_text(text[::-1].encode())
        chunks += [("client", sent[i : i + 7]) for i in range(0, len(sent), 7)]
        chunks.append(("server", drain(server)))
    client.send_binary(b"\x00\x01\x02" * 100)
    chunks.append(("client", drain(client)))

    summary = sniff(chunks, Limits(preview_bytes=1024, max_messages=100), deflate)
    previews = [m.preview for m in summary.messages if m.opcode == 1]
    assert previews == [p for text in texts for p in (text, text[::-1])]
    assert all(m.compressed for m in summary.messages)
    binary = summary.messages[-1]
    assert base64.b64decode(binary.preview) == b"\x00\x01\x02" * 100
    # Repeated messages shrink on the wire once the context is shared across messages.
    lengths = [m.length for m in summary.messages if m.side == "client"][:5]
    assert (lengths[1] < lengths[0]) is context_takeover
    assert summary.counts.client_bytes == sum(
        m.length for m in summary.messages if m.side == "client"
    )


def test_garbage_after_upgrade_is_counted_not_crashed_on():
    summary = sniff([("server", b"\xff" * 20 + os.urandom(1000))])
    assert summary.close is None  # nothing readable, nothing invented


def test_identical_repeated_messages_keep_their_previews_with_context_takeover():
    """They inflate ~80x (each one a copy of the last): far more than text, far less than a bomb."""
    _, server, extensions = connected_pair(
        [ClientPerMessageDeflateFactory()], [ServerPerMessageDeflateFactory()]
    )
    state = json.dumps([{"id": i, "name": f"item {i}", "ok": True} for i in range(250)])
    chunks = []
    for _ in range(2000):
        server.send_text(state.encode())
        chunks.append(("server", drain(server)))
    assert 2000 * len(state) > 50 * sum(len(chunk) for _, chunk in chunks)
    limits = Limits(preview_bytes=64, max_messages=2000)
    summary = sniff(chunks, limits, Deflate.from_response_header(extensions))
    assert [m.preview for m in summary.messages] == [state[:64]] * 2000


@pytest.mark.parametrize("extensions", ["permessage-deflate", DEFLATE_NO_CONTEXT])
def test_a_deflate_bomb_is_counted_exactly_and_costs_little(extensions):
    bomb = deflate_bomb(512 << 20)  # 0.5 MB that inflate to 512 MiB
    stream = frame(0xC2, bomb) + unmasked(Frame(Opcode.TEXT, b"ok"))  # 0xC2: RSV1 (compressed)
    began = time.process_time()
    summary = sniff([("server", stream)], deflate=Deflate.from_response_header(extensions))
    assert time.process_time() - began < 0.3  # inflating it all: over a second
    big, after = summary.messages
    assert (big.length, big.compressed, big.truncated) == (len(bomb), True, True)
    assert base64.b64decode(big.preview) == bytes(DEFAULT_LIMITS.preview_bytes)
    assert (after.preview, after.truncated) == ("ok", False)
    assert summary.counts.server_bytes == len(bomb) + 2
