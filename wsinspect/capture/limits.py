"""How much of each connection's traffic is kept for display; counts are never capped."""

from __future__ import annotations

from dataclasses import dataclass

BODY_LIMIT = 64 * 1024  # of a refusal's body: enough for any error page's words


@dataclass(frozen=True, slots=True)
class Limits:
    preview_bytes: int = 512
    max_messages: int = 200


DEFAULT_LIMITS = Limits()
