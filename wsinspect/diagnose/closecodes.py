"""What a WebSocket close code means (RFC 6455 section 7.4, IANA registry, well-known app codes)."""

from __future__ import annotations

MEANINGS: dict[int, str] = {
    1000: "normal closure",
    1001: "going away (page closed or server shutting down)",
    1002: "protocol error: a peer broke the WebSocket protocol",
    1003: "unsupported data (e.g. binary to a text-only endpoint)",
    1005: "no status code in the close frame",
    1006: "abnormal closure: the TCP connection dropped without a close frame (a crash, a "
    "network failure, or a proxy's idle timeout); never sent on the wire",
    1007: "invalid payload (e.g. text that is not UTF-8)",
    1008: "policy violation: the server refused after accepting (often authentication or origin)",
    1009: "message too big for the receiver's limit",
    1010: "a required extension was not negotiated",
    1011: "internal server error",
    1012: "service restart",
    1013: "try again later (overloaded)",
    1014: "bad gateway: a proxy in between got a bad answer upstream",
    1015: "TLS handshake failure",
    # graphql-ws (subprotocol graphql-transport-ws)
    4400: "graphql-ws: bad request (malformed message)",
    4401: "graphql-ws: unauthorized (subscribe before connection_ack)",
    4403: "graphql-ws: forbidden (the server's onConnect refused)",
    4406: "graphql-ws: subprotocol not acceptable",
    4408: "graphql-ws: connection initialisation timeout (no connection_init in time)",
    4409: "graphql-ws: subscriber for this id already exists",
    4429: "graphql-ws: too many initialisation requests",
    4500: "graphql-ws: internal server error",
}

ABNORMAL = frozenset({1002, 1003, 1006, 1007, 1008, 1009, 1010, 1011, 1014, 1015})


def meaning(code: int | None) -> str:
    if code is None:
        return MEANINGS[1005]
    if code in MEANINGS:
        return MEANINGS[code]
    if 4000 <= code <= 4999:
        return "application-defined (4000-4999): see the server's or the library's documentation"
    if 3000 <= code <= 3999:
        return "registered for libraries and frameworks (3000-3999)"
    return "not a defined close code"


def is_abnormal(code: int | None) -> bool:
    return code is not None and (code in ABNORMAL or 4000 <= code <= 4999)
