"""The native session file: the model's records as JSON (docs/format.md).

It holds what was captured and nothing derived: the diagnosis is made again by whichever version
reads the file (``wsinspect diagnose --format json`` prints it). Written a handshake at a time;
read in two steps so that a large file opens quickly and
a damaged handshake costs only itself: the document with each handshake left as raw text, then
each handshake decoded straight into the model, its types and ranges checked on the way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import msgspec

from wsinspect.model import (
    OP_CLOSE,
    READABLE_VERSIONS,
    SESSION_FORMAT,
    SESSION_VERSION,
    Handshake,
    Session,
    Time,
    check_url,
    decoder,
    encoder,
)
from wsinspect.sessions import jsontext
from wsinspect.sessions.files import Budget
from wsinspect.sessions.jsontext import Object, Raw


class Header(msgspec.Struct):
    """The document around the handshakes."""

    format: str = SESSION_FORMAT
    version: int = SESSION_VERSION
    created: Time = 0.0
    proxy: dict[str, str | int | float | bool | None] = {}
    handshakes: list[Raw] = []


def dumps(session: Session) -> bytes:
    return b"".join(chunks(session))


def chunks(session: Session) -> Iterator[bytes]:
    """The file, a handshake at a time: 200,000 of them are never built whole."""
    head = Header(created=session.created, proxy=session.proxy)
    return jsontext.encode_chunks(head, session, encoder())


def looks_native(document: Object) -> bool:
    return "format" in document and jsontext.decode(document["format"]) == SESSION_FORMAT


def from_document(document: Object, warn: Callable[[str], None], budget: Budget) -> Session:
    """A native session; a damaged handshake is skipped with a warning."""
    version = jsontext.decode(document.get("version", b"null"))
    if version not in READABLE_VERSIONS:
        if type(version) is int and version > SESSION_VERSION:
            raise ValueError(
                f"written by a newer wsinspect (session version {version}; this one reads "
                f"versions {READABLE_VERSIONS[0]} to {SESSION_VERSION}): upgrade wsinspect"
            )
        raise ValueError(f"unsupported session version {str(version)[:20]!r}")
    handshakes = jsontext.decode(
        document.get("handshakes", b"null"),
        list[Raw],
        wrong_shape='damaged session: "handshakes" is not a list',
    )
    budget.expect(len(handshakes))
    about = {name: document[name] for name in ("created", "proxy") if name in document}
    header = jsontext.decode(
        jsontext.encode(about), Header, 'damaged session: "created" or "proxy" is wrong'
    )
    session = Session(created=header.created, proxy=dict(header.proxy))
    read = decoder(Handshake)  # version 1's stored diagnosis is not read: it is derived
    for number, raw in enumerate(handshakes, 1):
        budget.check_size(f"handshake {number}", len(raw))
        try:
            handshake = checked(read.decode(raw))
        except ValueError as e:  # msgspec's ValidationError is one
            budget.skipped(warn, f"handshake {number} skipped: {str(e)[:200]}")
            continue
        ws = handshake.websocket
        budget.admit(session, handshake, len(ws.messages) if ws else 0)
    return session


def checked(handshake: Handshake) -> Handshake:
    """What the types cannot say: the URL parses, and previews that are not plain text (base64,
    close codes) decode, now rather than when somebody looks."""
    check_url(handshake.url)
    ws = handshake.websocket
    if ws is not None:
        for message in ws.messages:
            if message.preview_encoding != "text" or message.opcode == OP_CLOSE:
                message.data  # noqa: B018 -- raises ValueError when damaged
        ws.seal()
    return handshake


def loads(data: bytes) -> Session:
    """Parse a native session strictly; raises ValueError (with a one-line reason) on bad input."""
    document = jsontext.decode(data, Object, "not a wsinspect session")
    if not looks_native(document):
        raise ValueError('not a wsinspect session (no "format": "wsinspect-session")')

    def fail(message: str) -> None:
        raise ValueError(f"damaged session: {message}")

    return from_document(document, fail, Budget())
