"""How an upgraded connection ended, read from its times: a silent gap cut short, or a client gone
before the socket opened.

An idle timeout leaves no words on the wire: the proxy in between closes both TCP connections
(measured for nginx, HAProxy, Apache and Caddy: a bare FIN, no close frame, so the page sees 1006)
some fixed time after the last byte. What is recorded says enough: when the last frame went by,
when the connection ended, which side ended it, and whether any ping or pong was in between.
"""

from __future__ import annotations

from dataclasses import dataclass

from wsinspect.model import OP_PING, OP_PONG, Handshake, Message

DROPPED = 1006  # the close code of a connection that ended without a close frame
# Below this, a drop right after the 101 or a message is a refusal or a crash, not an idle limit:
# the same bound as a quick refusal (rules.REFUSED_QUICKLY).
SILENT_AT_LEAST = 1.0  # seconds

# Idle limits that proxies and platforms apply by default (research: docs/rules/idle-timeout.md,
# each proxy's record in stacks/ carries the knob). A silence this long ending in a drop is one
# of them, whoever answered the 101.
IDLE_DEFAULTS: tuple[tuple[float, str], ...] = (
    (55.0, "Heroku's router (55 s, no setting)"),
    (
        60.0,
        "nginx `proxy_read_timeout`, AWS ALB `idle_timeout.timeout_seconds`, Apache `Timeout`, "
        "Traefik `readTimeout` (60 s each)",
    ),
    (100.0, "Cloudflare (about 100 s)"),
    (300.0, "Envoy `stream_idle_timeout`, Azure Front Door (300 s)"),
)


def near(silence: float, default: float) -> bool:
    """A proxy cuts at its limit after the last byte; what is recorded adds at most a few
    hundred milliseconds of relaying, and clocks on either side of a file round a little."""
    return default - 1.0 <= silence <= default + max(2.0, 0.03 * default)


def known_default(silence: float) -> str | None:
    """Whose default idle limit a silence ended by a drop matches, if any."""
    return next((names for limit, names in IDLE_DEFAULTS if near(silence, limit)), None)


@dataclass(frozen=True, slots=True)
class IdleDrop:
    """A connection that dropped after a silence: how long, and what was seen before."""

    silence: float  # seconds from the last frame (or the 101) to the drop
    last: Message | None  # the last frame seen, None when nothing came after the 101
    heartbeats: int  # pings and pongs in the recorded window
    default: str | None  # the known default the silence matches, if any
    by: str | None  # the side whose connection ended first; None when not known


def idle_drop(handshake: Handshake) -> IdleDrop | None:
    """The drop of an open WebSocket after at least SILENT_AT_LEAST of silence, ended from the
    server's side (or from a side unknown): no close frame, no frame at all in the gap."""
    ws = handshake.websocket
    close = ws.close if ws else None
    if ws is None or close is None or close.code != DROPPED or close.by == "client":
        return None
    if close.time is None or handshake.answered is None:
        return None
    last = max(ws.messages, key=lambda m: m.time, default=None)
    since = max(handshake.answered, last.time) if last else handshake.answered
    silence = close.time - since
    if silence < SILENT_AT_LEAST:
        return None
    heartbeats = sum(1 for m in ws.messages if m.opcode in (OP_PING, OP_PONG))
    return IdleDrop(silence, last, heartbeats, known_default(silence), close.by)


@dataclass(frozen=True, slots=True)
class LeftEarly:
    """A client gone before its WebSocket was open: how, and whether the client surely went
    first (the raw relay does not always know which side ended a connection)."""

    how: str
    sure: bool


def left_while_connecting(handshake: Handshake) -> LeftEarly | None:
    """How the client left before its WebSocket was open, or None. Either before any answer
    (the capture's words: "the client left before the server answered"), or as the 101 arrived:
    the connection ended within SILENT_AT_LEAST, without a close frame and before any frame,
    from the client's side or a side unknown. That is what a browser does with a socket
    close()d while CONNECTING."""
    error = handshake.error or ""
    if handshake.response is None and error.startswith("the client left before the server"):
        return LeftEarly(error, sure=True)
    ws = handshake.websocket
    close = ws.close if ws else None
    if ws is None or close is None or handshake.status != 101 or handshake.answered is None:
        return None
    if close.code != DROPPED or close.by == "server" or close.time is None or ws.messages:
        return None
    after = close.time - handshake.answered
    if after > SILENT_AT_LEAST:
        return None
    ms = f"{1000 * max(after, 0.0):.0f} ms"
    if close.by == "client":
        return LeftEarly(f"the client ended the connection {ms} after the 101", sure=True)
    return LeftEarly(f"the connection ended {ms} after the 101, before any frame", sure=False)
