"""The model is the native file format: what is captured comes back from a file as it was, and
files of the previous version still open."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from wsinspect.diagnose import diagnose, diagnosis_of
from wsinspect.model import (
    Client,
    Close,
    Counts,
    Handshake,
    Headers,
    Message,
    Request,
    Response,
    Session,
    WebSocketSummary,
    encoder,
    to_builtins,
)
from wsinspect.sessions import load, native
from wsinspect.sessions.redact import redact_handshake

FIXTURES = Path(__file__).parent / "fixtures"


def full_handshake() -> Handshake:
    return Handshake(
        id="h1",
        started=1700000000.25,
        answered=1700000000.5,
        url="ws://127.0.0.1:8080/chat?x=1",
        client=Client("127.0.0.1:50000"),
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
                    Message.of("client", 1.0, 1, 5, b"hello"),
                    Message.of("server", 2.0, 2, 3, b"\x00\x01\x02", True, 2, True),
                    Message.of("server", 2.5, 8, 5, b"\x03\xe8bye"),
                    Message.of("server", 2.6, 1, 9, "été".encode()[:4], True),  # a cut code point
                ]
            ),
            counts=Counts(1, 1, 5, 3),
            close=Close(1000, "bye", "client", 3.0),
            messages_dropped=7,
        ),
    )


def test_round_trip_is_lossless_and_keeps_duplicate_headers():
    session = Session(created=1.5, proxy={"port": 8877})
    session.add(full_handshake())
    session.add(Handshake(id="h2", started=2.0, url="ws://x/", error="connection refused"))
    again = native.loads(native.dumps(session))
    assert list(map(encoder().encode, again)) == list(map(encoder().encode, session))
    first = again.get("h1")
    assert first.request.headers.get_all("sec-websocket-protocol") == ["a", "b, c"]
    assert first.offered_subprotocols == ["a", "b", "c"]
    assert first.response.headers.get_all("set-cookie") == ["a=1", "b=2"]
    assert [m.data for m in first.websocket.messages] == [
        b"hello",
        b"\x00\x01\x02",
        b"\x03\xe8bye",
        "ét".encode(),  # the cut code point is dropped, the rest kept
    ]


def test_headers_keep_wire_order_and_case_in_the_file():
    session = Session(created=0)
    session.add(full_handshake())
    document = json.loads(native.dumps(session))
    headers = document["handshakes"][0]["request"]["headers"]
    assert headers[2:] == [["Sec-WebSocket-Protocol", "a"], ["sec-websocket-protocol", "b, c"]]


def test_the_file_holds_the_capture_and_a_reader_diagnoses_it():
    """The diagnosis is derived, never stored: a file shows what today's rules conclude, and a
    file of refusals is not ten times larger for their fix snippets."""
    session = Session(created=0)
    refused = full_handshake()
    refused.response = Response(403, "Forbidden", body="Origin not allowed")
    refused.websocket = None
    session.add(refused)
    document = json.loads(native.dumps(session))
    assert document["version"] == 2
    assert set(document["handshakes"][0]) == set(Handshake.__struct_fields__)
    again = native.loads(native.dumps(session)).get("h1")
    assert again is not None
    assert diagnosis_of(again) == diagnosis_of(refused)
    assert diagnosis_of(again).verdict == "error"


# Where a rule has since learned better than the version that wrote the file: the same capture,
# a better diagnosis. graphql-ws closing with 4401 within 2 ms of its 101, before any message, is
# the application refusing after the upgrade (issue 15), not an abnormal close.
REDIAGNOSED = {"/subscriptions": ("error", ["refused-after-upgrade"])}


def test_a_version_1_file_from_a_real_capture_opens_with_the_same_findings():
    """tests/fixtures/session-v1.json: the demo's real servers and clients through the embedded
    proxy of wsinspect 1b62c01 (format version 1), saved by that version's writer."""
    path = FIXTURES / "session-v1.json"
    document = json.loads(path.read_bytes())
    assert document["version"] == 1
    session = load(path)
    assert len(session) == len(document["handshakes"]) == 8
    for stored, handshake in zip(document["handshakes"], session, strict=True):
        assert handshake.url == stored["url"]
        assert handshake.client.address == stored["client"]["address"]
        assert handshake.request.headers == [tuple(h) for h in stored["request"]["headers"]]
        assert handshake.status == (stored["response"] or {}).get("status")
        diagnosis = diagnosis_of(handshake)
        verdict, codes = stored["verdict"], [f["code"] for f in stored["findings"]]
        verdict, codes = REDIAGNOSED.get(urlsplit(handshake.url).path, (verdict, codes))
        assert diagnosis.verdict == verdict
        assert [f.code for f in diagnosis.findings] == codes
        ws = stored["websocket"]
        if ws is not None:
            previews = [m.preview for m in handshake.websocket.messages]
            assert previews == [m["preview"] for m in ws["messages"]]
            assert handshake.websocket.close.code == ws["close"]["code"]
    assert any(h.websocket and h.websocket.messages for h in session)


def test_an_unknown_version_is_refused_in_one_line():
    document = json.loads((FIXTURES / "session-v1.json").read_bytes())
    document["version"] = 3
    with pytest.raises(ValueError, match=r"newer wsinspect \(session version 3; .*upgrade"):
        native.loads(json.dumps(document).encode())


def test_the_capture_record_has_no_diagnosis_field():
    """The diagnosis is derived, never written by the capture: one place computes it."""
    fields = set(Handshake.__struct_fields__)
    assert not fields & {"verdict", "stack", "findings", "diagnosis"}
    handshake = full_handshake()
    handshake.response = Response(403, "Forbidden", body="Origin not allowed")
    refused = diagnosis_of(handshake)
    assert diagnosis_of(handshake) is refused  # kept beside the record, not computed again
    handshake.response = Response(101, "Switching Protocols")  # the capture replaced the answer
    assert diagnosis_of(handshake) is not refused
    assert diagnosis_of(handshake) == diagnose(handshake) != refused
    assert "diagnosis" not in to_builtins(handshake)


def test_redaction_covers_headers_query_and_findings_but_leaves_the_original():
    handshake = full_handshake()
    handshake.url = "wss://api.example/ws?access_token=eyJhbGciOi.x.y&v=2&key="
    handshake.request.headers.append(("Authorization", "Bearer eyJhbGciOi.x.y"))
    handshake.response = Response(403, "Forbidden", body="token eyJhbGciOi.x.y refused")
    redacted = redact_handshake(handshake)
    assert redacted.url == "wss://api.example/ws?access_token=[redacted]&v=2&key="
    assert redacted.request.headers.get("Authorization") == "[redacted]"
    assert "eyJhbGciOi" not in native.dumps(_session(redacted)).decode()
    assert redacted.request.headers.get("Origin") == "http://localhost:3000"
    assert handshake.request.headers.get("Authorization") == "Bearer eyJhbGciOi.x.y"
    assert "eyJhbGciOi" in json.dumps(to_builtins(diagnosis_of(handshake)))  # evidence quotes it
    assert "eyJhbGciOi" not in json.dumps(to_builtins(diagnosis_of(redacted)))


def _session(*handshakes: Handshake) -> Session:
    session = Session(created=0.0)
    for handshake in handshakes:
        session.add(handshake)
    return session


def test_a_snapshot_keeps_still_while_capture_goes_on():
    """The autosave writes a snapshot in another thread while the proxy keeps adding messages."""
    session = Session(created=0.0)
    for number, closed in enumerate((True, False)):
        ws = WebSocketSummary(messages=deque([Message.of("client", 1.0, 1, 2, b"hi")]))
        ws.counts = Counts(1, 0, 2, 0)
        if closed:
            ws.close = Close(1000, "", "client", 2.0)
        handshake = Handshake(id=f"h{number}", started=0.0, url="ws://a/", websocket=ws)
        handshake.response, handshake.answered = Response(101), 0.1
        session.add(handshake)
    snapshot = session.snapshot()
    live = session.get("h1").websocket
    assert isinstance(live.messages, deque)  # as the capture keeps them
    live.messages.append(Message.of("server", 1.5, 1, 3, b"new"))
    live.counts.add("server", 3)
    copied = snapshot.get("h1").websocket
    assert [m.data for m in copied.messages] == [b"hi"]
    assert copied.counts.server_messages == 0
    assert snapshot.get("h0") is session.get("h0")  # over: shared, not copied
    document = json.loads(native.dumps(snapshot))
    assert document["handshakes"][1]["websocket"]["counts"]["server_messages"] == 0
