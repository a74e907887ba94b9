"""How much of each connection's traffic is kept for display; counts are never capped."""

from __future__ import annotations

from dataclasses import dataclass

BODY_LIMIT = 64 * 1024  # of a refusal's body: enough for any error page's words
# Of a refusal's body as it came on the wire, while the proxy streams it on. Every encoding yields
# about as many bytes as it consumes or more (a deflate or brotli code is at most 15 bits a byte),
# so four times the display's share is ample; a body padded beyond that shows less, marked cut.
RAW_BODY_LIMIT = 4 * BODY_LIMIT


@dataclass(frozen=True, slots=True)
class Limits:
    preview_bytes: int = 512
    max_messages: int = 200


DEFAULT_LIMITS = Limits()
