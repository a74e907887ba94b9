"""JSON in and out, with orjson: the standard library's encoder and decoder take 3-4 s each on
a session of a million messages, orjson a fraction of a second (bench/sessions.py)."""

from __future__ import annotations

from typing import Any

import orjson


def encode(document: Any) -> bytes:
    return orjson.dumps(document)


def decode(data: bytes) -> Any:
    """JSON text to data, or ValueError with a one-line reason."""
    if data.startswith(b"\xef\xbb\xbf"):  # a byte order mark, as some Windows tools write
        data = data[3:]
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        if "UTF-8" in e.msg:
            raise ValueError("not UTF-8 text") from None
        raise ValueError(f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
