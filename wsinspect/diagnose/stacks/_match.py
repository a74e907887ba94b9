"""Tests over the facts that stack records build their signals and refusals from."""

from __future__ import annotations

import re

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._record import Test


def body_matches(pattern: str) -> Test:
    compiled = re.compile(pattern, re.DOTALL)
    return lambda f: bool(compiled.search(f.body))


def header_matches(name: str, pattern: str) -> Test:
    compiled = re.compile(pattern, re.IGNORECASE)
    return lambda f: any(compiled.search(v) for v in f.response.get_all(name))


def header_spelled(name: str) -> Test:
    """A header written with exactly this casing: servers differ in how they spell names."""
    return lambda f: any(k == name for k, _ in f.response)


def has_header(name: str) -> Test:
    return lambda f: f.response.has(name)


def status_is(*codes: int) -> Test:
    return lambda f: f.status in codes


def refused(f: Facts) -> bool:
    """An answer other than 101."""
    return f.status not in (None, 101)


def path_has(pattern: str) -> Test:
    compiled = re.compile(pattern)
    return lambda f: bool(compiled.search(f.path + ("?" + f.query if f.query else "")))


def offers(protocol: str) -> Test:
    return lambda f: protocol in f.offered


def with_origin(f: Facts) -> bool:
    return f.origin is not None


def cross_origin(f: Facts) -> bool:
    return f.cross_origin


def both(*tests: Test) -> Test:
    return lambda f: all(t(f) for t in tests)


def go_http_error(f: Facts) -> bool:
    """Go's http.Error: text/plain with charset, nosniff, body ending in a newline."""
    return (
        f.response.get("Content-Type") == "text/plain; charset=utf-8"
        and f.response.get("X-Content-Type-Options") == "nosniff"
        and f.body.endswith("\n")
    )


def empty_refusal(f: Facts) -> bool:
    """An empty 403 without a Server header, as uvicorn sends when an ASGI app refuses."""
    return (
        f.status == 403
        and not f.body
        and f.response.get("Content-Length") == "0"
        and not f.response.has("Server")
    )


def websockets_body(f: Facts) -> bool:
    """The refusal body of Python websockets (new and legacy servers)."""
    return f.body.startswith("Failed to open a WebSocket connection:")
