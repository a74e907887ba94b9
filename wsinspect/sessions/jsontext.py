"""JSON in and out, with msgspec.

Two measured reasons (bench/sessions.py, a million messages): the standard library's encoder and
decoder take 3-4 s each; and a typed decode builds the message records straight from the text,
where a generic parser first builds a million dicts (1.0-1.5 s before any of our code runs).
Parts of a document can be left as ``Raw`` text and decoded one by one, so a damaged entry costs
that entry only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar, overload

import msgspec
from msgspec import Raw

T = TypeVar("T")

Object = dict[str, Raw]  # a JSON object whose values are decoded later, one by one
Shallow = Object | list[Raw] | str | float | bool | None  # any JSON value, its members left raw


def encode(document: Any) -> bytes:
    return msgspec.json.encode(document)


def encode_chunks(
    document: Any, items: Iterable[Any], encoder: msgspec.json.Encoder | None = None
) -> Iterator[bytes]:
    """``encode(document)`` with its last value, an empty list, holding ``items``: as chunks,
    an item each, so that a file of 200,000 handshakes is written without being built whole."""
    encode = msgspec.json.encode if encoder is None else encoder.encode
    head = encode(document)
    cut = head.rindex(b"[]") + 1
    if head[cut:].strip(b"]}"):
        raise ValueError("the document's last value must be an empty list")
    yield head[:cut]
    separator = b""
    for item in items:
        yield separator + encode(item)
        separator = b","
    yield head[cut:]


@overload
def decode(data: bytes | Raw, kind: type[T], wrong_shape: str = "") -> T: ...
@overload  # a union such as Shallow is no type[T]: its value comes back as Any
def decode(data: bytes | Raw, kind: Any = Any, wrong_shape: str = "") -> Any: ...
def decode(data: bytes | Raw, kind: Any = Any, wrong_shape: str = "") -> Any:
    """JSON text to ``kind``, or ValueError with a one-line reason (``wrong_shape``, if given,
    when the text is JSON but not a ``kind``)."""
    if isinstance(data, bytes) and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a byte order mark, as some Windows tools write
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as e:
        raise ValueError(wrong_shape or str(e)) from None
    except msgspec.DecodeError as e:
        reason = str(e).removeprefix("JSON is malformed: ").replace(" (byte ", " at byte ")
        raise ValueError(f"not valid JSON ({reason[0].lower()}{reason[1:].rstrip(')')})") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None


__all__ = [
    "Object",
    "Raw",
    "Shallow",
    "decode",
    "encode",
    "encode_chunks",
]
