"""Captured text made safe to print: no byte from the wire reaches the terminal raw."""

from __future__ import annotations

import re

# C0 and C1 controls and DEL: escape sequences start with ESC (0x1b) or CSI (0x9b).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Replace control characters with visible escapes, so captured data cannot drive a terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
