"""Redaction remembers what it found in a handshake that is over (saves, autosaves and the screen
redact it again and again), and never hides less for it."""

from __future__ import annotations

from wsinspect.model import (
    Close,
    Handshake,
    Headers,
    Message,
    Request,
    Response,
    WebSocketSummary,
)
from wsinspect.sessions.redact import REDACTED, redact_handshake


def over(cookie: str, *payloads: str) -> Handshake:
    """Answered, its WebSocket closed: nothing more will come."""
    messages = [Message.of("server", 1.0, 1, len(p), p.encode()) for p in payloads]
    return Handshake(
        id="h",
        started=0.0,
        answered=0.1,
        url="wss://h/ws",
        request=Request(headers=Headers([("Host", "h"), ("Cookie", f"sid={cookie}")])),
        response=Response(101, "Switching Protocols"),
        websocket=WebSocketSummary(messages=messages, close=Close(1000, "", "client", 2.0)),
    )


def previews(handshake: Handshake) -> list[str]:
    assert handshake.websocket is not None
    return [m.preview for m in handshake.websocket.messages]


def test_the_same_redaction_again_and_again():
    handshake = over("s3cret-one", '{"echo":"s3cret-one"}', '{"n":1}')
    first = redact_handshake(handshake)
    assert previews(first) == [f'{{"echo":"{REDACTED}"}}', '{"n":1}']
    assert previews(redact_handshake(handshake)) == previews(first)
    assert redact_handshake(handshake).request.headers.get("Cookie") == REDACTED


def test_what_was_remembered_is_found_again_when_the_handshake_changes():
    """A capture replaces a record's parts rather than editing them: what redaction remembered
    of the old parts must not stand for the new ones."""
    handshake = over("s3cret-one", '{"n":1}')
    redact_handshake(handshake)  # remembered: no secret in its messages
    handshake.request = Request(headers=Headers([("Cookie", "sid=s3cret-two")]))
    assert handshake.websocket is not None
    handshake.websocket.messages = [Message.of("server", 1.0, 1, 22, b'{"echo":"s3cret-two"}')]
    assert previews(redact_handshake(handshake)) == [f'{{"echo":"{REDACTED}"}}']
