"""Tests over the WebSocket host's other HTTP answers (``facts.site``), for ``site_signals``.

A refusal is often a bare status line; the page that opened the socket came from the same scheme,
host and port, and its ``Server``, ``X-Powered-By``, cookie names and error pages say whose it is.
They weigh less than the refusal's own shape: a proxy may route the socket's path to another
server than the page's. Each evidence reads "the host's other answers: …" (``SITE``).
"""

from __future__ import annotations

import re

from wsinspect.diagnose.stacks._record import Test

SITE = "the host's other answers: "  # how a site signal's evidence begins, to tell it apart


def site_server(pattern: str) -> Test:
    """A ``Server`` value the host sent on another answer matches (case-insensitive search)."""
    compiled = re.compile(pattern, re.IGNORECASE)
    return lambda f: f.site is not None and any(compiled.search(v) for v in f.site.servers)


def site_powered_by(pattern: str) -> Test:
    compiled = re.compile(pattern, re.IGNORECASE)
    return lambda f: f.site is not None and any(compiled.search(v) for v in f.site.powered_by)


def site_cookie(pattern: str) -> Test:
    """A cookie the host set is named exactly so (the whole name matches ``pattern``)."""
    compiled = re.compile(pattern)
    return lambda f: f.site is not None and any(compiled.fullmatch(n) for n in f.site.cookie_names)


def site_header(name: str) -> Test:
    """The host sent a header of this name on another answer, whatever its casing."""
    lowered = name.lower()
    return lambda f: f.site is not None and any(n.lower() == lowered for n in f.site.header_names)


def site_error_page(pattern: str) -> Test:
    """One of the host's 4xx/5xx pages (its start) matches ``pattern``."""
    compiled = re.compile(pattern, re.DOTALL)
    return lambda f: f.site is not None and any(compiled.search(p.body) for p in f.site.error_pages)
