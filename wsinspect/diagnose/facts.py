"""Facts read off one handshake, shared by the stack fingerprints, the rules and the fixes.

Everything here is derived from the handshake alone: no I/O, no clock.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from wsinspect.model import Handshake, Headers, SiteEvidence

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Scheme, host and port of an Origin or a URL; ``authority`` is host[:port] as written."""

    scheme: str
    host: str
    port: int | None
    authority: str

    @property
    def site(self) -> tuple[str, str]:
        """What browsers compare for "same-site": the scheme and the registrable domain (ports
        play no part). A WebSocket URL counts as http/https, as the Fetch standard has it."""
        scheme = {"ws": "http", "wss": "https"}.get(self.scheme, self.scheme)
        return scheme, registrable_domain(self.host)


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    """The Public Suffix List as shipped in the package (no network), read once, when needed."""
    return PublicSuffixList()


def registrable_domain(host: str) -> str:
    """eTLD+1 by the Public Suffix List, private entries included: ``a.github.io`` and
    ``b.github.io`` are two sites, ``app.example.com`` and ``api.example.com`` one. An IP
    address, ``localhost`` or a public suffix itself is its own site, compared exactly."""
    host = host.lower().rstrip(".")
    try:
        return ipaddress.ip_address(host.strip("[]")).compressed
    except ValueError:
        pass
    return _public_suffixes().privatesuffix(host) or host


def parse_endpoint(text: str | None) -> Endpoint | None:
    if not text:
        return None
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return Endpoint(parts.scheme.lower(), parts.hostname.lower(), port, parts.netloc.lower())


def parse_host_header(value: str | None, scheme: str) -> Endpoint | None:
    return parse_endpoint(f"{scheme}://{value}") if value else None


def expected_accept(key: str) -> str:
    digest = hashlib.sha1((key.strip() + WEBSOCKET_GUID).encode("ascii", "replace")).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True, slots=True)
class Facts:
    handshake: Handshake
    status: int | None
    request: Headers
    response: Headers
    body: str
    origin: str | None
    origin_endpoint: Endpoint | None
    host: str | None
    host_endpoint: Endpoint | None
    target: Endpoint | None
    offered: list[str]
    selected: str | None
    has_credentials: bool
    site: SiteEvidence | None  # the host's other HTTP answers (Server, cookie names, error pages)

    @property
    def path(self) -> str:
        parts = urlsplit(self.handshake.url)
        return parts.path or "/"

    @property
    def query(self) -> str:
        return urlsplit(self.handshake.url).query

    @property
    def cross_origin(self) -> bool:
        """The Origin's host[:port] differs from the Host header's, compared as written and without
        case, as coder/websocket and gorilla/websocket do by default (the scheme plays no part)."""
        o = self.origin_endpoint
        if o is None:
            return self.origin is not None  # "null", file://: no host to compare
        host = self.host or (self.target.authority if self.target else "")
        return o.authority != host.lower()

    @property
    def cross_site(self) -> bool:
        """The page's site differs from the server's: what cross-site WebSocket hijacking needs."""
        o = self.origin_endpoint
        t = self.host_endpoint or self.target
        if o is None or t is None:
            return self.origin is not None and self.origin_endpoint is None
        return o.site != t.site

    @property
    def origin_host(self) -> str:
        """host[:port] of the Origin, the form coder/websocket's OriginPatterns and Django want."""
        return self.origin_endpoint.authority if self.origin_endpoint else (self.origin or "")

    def body_has(self, *needles: str) -> bool:
        return any(needle in self.body for needle in needles)


def facts_of(handshake: Handshake) -> Facts:
    request = handshake.request.headers
    response = handshake.response.headers if handshake.response else Headers()
    target = parse_endpoint(handshake.url)
    scheme = target.scheme if target else "ws"
    host = request.get("Host")
    origin = request.get("Origin")
    return Facts(
        handshake=handshake,
        status=handshake.status,
        request=request,
        response=response,
        body=handshake.response.body if handshake.response else "",
        origin=origin,
        origin_endpoint=parse_endpoint(origin),
        host=host,
        host_endpoint=parse_host_header(host, scheme) or target,
        target=target,
        offered=handshake.offered_subprotocols,
        selected=handshake.selected_subprotocol,
        has_credentials=request.has("Cookie") or request.has("Authorization"),
        site=handshake.site,
    )
