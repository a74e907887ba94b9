"""What each host said in its other HTTP answers: evidence of the stack behind its WebSockets.

A refused WebSocket is often a bare status line (Daphne's ``403 Access denied`` has no header at
all), while the page that opened it came from the same server with ``Server: daphne`` and a
``csrftoken`` cookie. The recorder feeds every answer that is not a WebSocket attempt to
``Sites.saw``, and gives each handshake ``Sites.evidence`` for its host when it is answered.

The sites are hostile: every list is bounded (first seen is kept), every value cut, and only so
many hosts are remembered (the least recently seen is forgotten). Each answer costs a pass over
its headers and, for an error page, a decode of its first few KiB: never its whole body, which
is only read when mitmproxy already holds it.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import TYPE_CHECKING

from wsinspect.capture.bodies import decoded_prefix
from wsinspect.model import ErrorPage, SiteEvidence

if TYPE_CHECKING:
    from mitmproxy import http

MAX_HOSTS = 256
MAX_VALUES = 8  # Server and X-Powered-By values: a host behind a proxy has two or three
MAX_NAMES = 64  # cookie and header names
MAX_ERROR_PAGES = 8  # distinct (status, content type) pairs
MAX_TEXT = 200  # characters of a name or value
ERROR_BODY = 512  # bytes of an error page, decoded: where frameworks put their names
ERROR_RAW = 4096  # bytes of an error page read to decode them: never the whole of a large body
MAX_HEADERS = 128  # of one answer: a flood of headers costs no more than this

_VALUES_KEPT = frozenset({"server", "x-powered-by", "set-cookie"})  # of Set-Cookie, the name only

SiteKey = tuple[str, str, int]  # scheme (http or https), host in lower case, port


def site_key(request: http.Request) -> SiteKey:
    """What makes two requests the same site here: a WebSocket's ``ws`` is the page's ``http``."""
    return request.scheme, request.host.lower(), request.port


class _Distinct:
    """Values in the order first seen, at most ``limit``, each cut; the tuple made once per
    change, so that handshakes answered in between share it."""

    __slots__ = ("_seen", "limit", "values")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: dict[str, None] = {}
        self.values: tuple[str, ...] = ()

    def add(self, value: str) -> None:
        value = value[:MAX_TEXT]
        if value and len(self._seen) < self.limit and value not in self._seen:
            self._seen[value] = None
            self.values = (*self.values, value)


class _Site:
    """One host's tally, and the evidence made of it when last asked (reused until it changes)."""

    __slots__ = (
        *("_evidence", "cookie_names", "error_pages", "header_names", "powered_by"),
        *("responses", "servers"),
    )

    def __init__(self) -> None:
        self.responses = 0
        self.servers = _Distinct(MAX_VALUES)
        self.powered_by = _Distinct(MAX_VALUES)
        self.cookie_names = _Distinct(MAX_NAMES)
        self.header_names = _Distinct(MAX_NAMES)
        self.error_pages: dict[tuple[int, str], ErrorPage] = {}
        self._evidence: SiteEvidence | None = None

    def saw(self, response: http.Response) -> None:
        self.responses += 1
        self._evidence = None
        for raw_name, raw_value in itertools.islice(response.headers.fields, MAX_HEADERS):
            name = raw_name[:MAX_TEXT].decode("latin-1")
            self.header_names.add(name)
            lowered = name.lower()
            if lowered in _VALUES_KEPT:
                value = raw_value[: MAX_TEXT + 1].decode("latin-1")  # +1: a cookie's "="
                if lowered == "set-cookie":
                    cookie = cookie_name(value)
                    if cookie:
                        self.cookie_names.add(cookie)
                elif lowered == "server":
                    self.servers.add(value.strip())
                else:
                    self.powered_by.add(value.strip())
        if response.status_code >= 400:
            self._error_page(response)

    def _error_page(self, response: http.Response) -> None:
        content_type = (response.headers.get("content-type") or "")[:MAX_TEXT]
        key = (response.status_code, content_type)
        if key in self.error_pages or len(self.error_pages) >= MAX_ERROR_PAGES:
            return
        raw = response.raw_content or b""  # None: streamed on by somebody else's mitmproxy
        body, cut = decoded_prefix(
            raw[:ERROR_RAW], response.headers.get("content-encoding"), ERROR_BODY
        )
        self.error_pages[key] = ErrorPage(
            status=response.status_code,
            reason=response.data.reason.decode("latin-1")[:MAX_TEXT],
            content_type=content_type,
            body=body.decode("utf-8", "replace"),
            body_truncated=cut or len(raw) > ERROR_RAW,
        )

    def evidence(self) -> SiteEvidence:
        if self._evidence is None:
            self._evidence = SiteEvidence(
                responses=self.responses,
                servers=self.servers.values,
                powered_by=self.powered_by.values,
                cookie_names=self.cookie_names.values,
                header_names=self.header_names.values,
                error_pages=tuple(self.error_pages.values()),
            )
        return self._evidence


def cookie_name(set_cookie: str) -> str | None:
    """The name a Set-Cookie sets; None for a nameless cookie (``Set-Cookie: abc``), whose one
    word is its value (RFC 6265bis), a secret as any other."""
    name, equals, _ = set_cookie.partition(";")[0].partition("=")
    name = name.strip()
    return name if equals and name else None


class Sites:
    """Each host's tally, the least recently seen forgotten beyond ``MAX_HOSTS``."""

    def __init__(self, max_hosts: int = MAX_HOSTS) -> None:
        self.max_hosts = max_hosts
        self._sites: OrderedDict[SiteKey, _Site] = OrderedDict()

    def saw(self, flow: http.HTTPFlow) -> None:
        """An answer that came from the server (not one the proxy or an addon made up, which
        had no connection to it: a CONNECT's, an authentication or a blocked request's)."""
        response = flow.response
        if response is None or flow.request.method == "CONNECT":
            return
        if flow.server_conn.timestamp_start is None:
            return
        key = site_key(flow.request)
        site = self._sites.get(key)
        if site is None:
            site = self._sites[key] = _Site()
            if len(self._sites) > self.max_hosts:
                self._sites.popitem(last=False)
        else:
            self._sites.move_to_end(key)
        site.saw(response)

    def evidence(self, request: http.Request) -> SiteEvidence | None:
        """What the request's host said so far; None when it said nothing through the proxy."""
        site = self._sites.get(site_key(request))
        return None if site is None else site.evidence()

    def __len__(self) -> int:
        return len(self._sites)
