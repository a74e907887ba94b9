"""The session model round-trips losslessly through its dict form, as the file format needs."""

from __future__ import annotations

import json
from collections import deque

from wsinspect.model import (
    Close,
    Counts,
    Finding,
    Fix,
    Handshake,
    Headers,
    Message,
    Request,
    Response,
    Session,
    Stack,
    WebSocketSummary,
)
from wsinspect.sessions import native
from wsinspect.sessions.redact import redact_handshake


def full_handshake() -> Handshake:
    return Handshake(
        id="h1",
        started=1700000000.25,
        answered=1700000000.5,
        url="ws://127.0.0.1:8080/chat?x=1",
        client_address="127.0.0.1:50000",
        request=Request(
            headers=Headers(
                [
                    ("Host", "127.0.0.1:8080"),
                    ("Origin", "http://localhost:3000"),
                    ("Sec-WebSocket-Protocol", "a"),
                    ("sec-websocket-protocol", "b, c"),
                ]
            )
        ),
        response=Response(
            status=101,
            reason="Switching Protocols",
            headers=Headers([("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]),
        ),
        websocket=WebSocketSummary(
            subprotocol="b",
            extensions=["permessage-deflate"],
            messages=deque(
                [
                    Message("client", 1.0, 1, 5, b"hello"),
                    Message("server", 2.0, 2, 3, b"\x00\x01\x02", True, 2, True),
                    Message("server", 2.5, 8, 5, b"\x03\xe8bye"),
                ]
            ),
            counts=Counts(1, 1, 5, 3),
            close=Close(1000, "bye", "client", 3.0),
            messages_dropped=7,
        ),
        verdict="error",
        stack=Stack("gorilla/websocket", 0.9, ["Sec-Websocket-Version casing"]),
        findings=[
            Finding(
                "origin-rejected",
                "error",
                "Origin refused",
                "because",
                {"Origin": "http://localhost:3000"},
                [Fix("gorilla/websocket", "go", "CheckOrigin: ...")],
            )
        ],
    )


def test_round_trip_is_lossless_and_keeps_duplicate_headers():
    session = Session(created=1.5, proxy={"port": 8877})
    session.add(full_handshake())
    session.add(Handshake(id="h2", started=2.0, url="ws://x/", error="connection refused"))
    again = native.loads(native.dumps(session))
    assert again.to_dict() == session.to_dict()
    first = again.get("h1")
    assert first.request.headers.get_all("sec-websocket-protocol") == ["a", "b, c"]
    assert first.offered_subprotocols == ["a", "b", "c"]
    assert first.response.headers.get_all("set-cookie") == ["a=1", "b=2"]


def test_headers_keep_wire_order_and_case_in_the_file():
    session = Session(created=0)
    session.add(full_handshake())
    document = json.loads(native.dumps(session))
    headers = document["handshakes"][0]["request"]["headers"]
    assert headers[2:] == [["Sec-WebSocket-Protocol", "a"], ["sec-websocket-protocol", "b, c"]]


def test_redaction_covers_headers_query_and_findings_but_leaves_the_original():
    handshake = full_handshake()
    handshake.url = "wss://api.example/ws?access_token=eyJhbGciOi.x.y&v=2&key="
    handshake.request.headers.append(("Authorization", "Bearer eyJhbGciOi.x.y"))
    handshake.findings[0].evidence["Authorization"] = "Bearer eyJhbGciOi.x.y"
    redacted = redact_handshake(handshake)
    assert redacted.url == "wss://api.example/ws?access_token=[redacted]&v=2&key="
    assert redacted.request.headers.get("Authorization") == "[redacted]"
    assert redacted.response.headers.get_all("Set-Cookie") == ["[redacted]", "[redacted]"]
    assert "eyJhbGciOi" not in json.dumps(redacted.to_dict())
    assert redacted.request.headers.get("Origin") == "http://localhost:3000"
    assert handshake.request.headers.get("Authorization") == "Bearer eyJhbGciOi.x.y"


def test_a_snapshot_keeps_still_while_capture_goes_on():
    """The autosave writes a snapshot in another thread while the proxy keeps adding messages."""
    from collections import deque

    from wsinspect.model import Counts, Handshake, Message, Response, Session, WebSocketSummary

    session = Session(created=0.0)
    for number, closed in enumerate((True, False)):
        ws = WebSocketSummary(messages=deque([Message("client", 1.0, 1, 2, b"hi")]))
        ws.counts = Counts(1, 0, 2, 0)
        if closed:
            ws.close = Close(1000, "", "client", 2.0)
        handshake = Handshake(id=f"h{number}", started=0.0, url="ws://a/", websocket=ws)
        handshake.response, handshake.answered = Response(101), 0.1
        session.add(handshake)
    snapshot = session.snapshot()
    live = session.get("h1").websocket
    live.messages.append(Message("server", 1.5, 1, 3, b"new"))
    live.counts.add("server", 3)
    copied = snapshot.get("h1").websocket
    assert [m.data for m in copied.messages] == [b"hi"]
    assert copied.counts.server_messages == 0
    assert snapshot.get("h0") is session.get("h0")  # over: shared, not copied
    assert snapshot.to_dict()["handshakes"][1]["websocket"]["counts"]["server_messages"] == 0
