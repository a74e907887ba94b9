"""Active probe: send a handshake again with other Origins and subprotocols, and learn the rule.

A capture shows what one handshake got; the probe asks the server the neighbouring questions — the
page's own origin, no Origin, a foreign one, ``null``, each subprotocol alone and none — so the
policy can be read off the answers (``diagnose/policy.py``). It is careful with the server: only
the URL it is given, a bounded number of requests one after another, each with a timeout, every
WebSocket closed with 1000 right after the handshake, no message sent, and no credentials unless
asked for: not the Cookie and Authorization headers, nor the user:password of the URL (websockets
would send it as ``Authorization: Basic``), nor, for a handshake taken from a capture, anything
else the redaction policy hides (X-Auth-Token, Api-Key, ``?token=``, a token offered as a
subprotocol): the person probing did not type those, someone's browser sent them.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidURI
from websockets.typing import Origin, Subprotocol
from websockets.uri import parse_uri

from wsinspect import __version__
from wsinspect.capture.limits import BODY_LIMIT
from wsinspect.diagnose import SEVERITY_RANK, diagnosis_of
from wsinspect.diagnose.policy import Statement, Trial, Variant, infer
from wsinspect.model import Handshake, Headers, Request, Response, Verdict
from wsinspect.sessions.redact import (
    is_secret_header,
    is_secret_param,
    redact_text,
    token_subprotocols,
)

FOREIGN_ORIGIN = "https://wsinspect-probe.example"  # a reserved name (RFC 2606): nobody's site
MOST = 8  # origins, and subprotocols, tried at most: the probe stays a handful of requests
CREDENTIALS = ("cookie", "authorization")
# Headers the handshake itself sets; copying them from a captured request would double them.
OWN_HEADERS = frozenset(
    {
        "host",
        "upgrade",
        "connection",
        "origin",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "content-length",
        "transfer-encoding",
        "proxy-connection",
        "proxy-authorization",
    }
)


class Unreachable(Exception):
    """The server could not be reached at all: the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Target:
    """What to probe and how: the URL, the handshake's Origins, subprotocols and headers."""

    url: str
    origins: tuple[str, ...] = ()
    subprotocols: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    with_credentials: bool = False
    proxy: str | None = None
    timeout: float = 5.0
    verify_tls: bool = True
    captured: bool = False  # taken from a capture: whatever the redaction hides is a credential

    @classmethod
    def of(cls, handshake: Handshake, with_credentials: bool = False, **options: Any) -> Target:
        """The handshake a capture holds, ready to be probed again."""
        origin = handshake.origin
        return cls(
            url=handshake.url,
            origins=() if origin is None else (origin,),
            subprotocols=tuple(handshake.offered_subprotocols),
            headers=tuple(handshake.request.headers),
            with_credentials=with_credentials,
            captured=True,
            **options,
        )

    @property
    def carries_cookies(self) -> bool:
        return any(name.lower() == "cookie" for name, _ in self.headers)

    def sent_url(self) -> str:
        """The URL as sent: without credentials unless asked (see the module's docstring)."""
        return self.url if self.with_credentials else _public_url(self.url, self.captured)[0]

    def sent_headers(self) -> list[tuple[str, str]]:
        return [
            (name, value)
            for name, value in self.headers
            if name.lower() not in OWN_HEADERS
            and (self.with_credentials or not self._credential(name, value))
        ]

    def sent_subprotocols(self) -> tuple[str, ...]:
        """The offered subprotocols, without a token passed as one (``access_token, eyJ…``)."""
        if self.with_credentials or not self.captured:
            return self.subprotocols
        tokens = token_subprotocols(self.subprotocols)
        return tuple(p for p in self.subprotocols if p not in tokens)

    def left_out(self) -> list[str]:
        """What was not sent, to say so: header names, and what of the URL and subprotocols."""
        if self.with_credentials:
            return []
        names = [
            name
            for name, value in self.headers
            if name.lower() not in OWN_HEADERS and self._credential(name, value)
        ]
        names += _public_url(self.url, self.captured)[1]
        if self.captured and token_subprotocols(self.subprotocols):
            names.append("a token offered as a subprotocol")
        return list(dict.fromkeys(names))

    def _credential(self, name: str, value: str) -> bool:
        if name.lower() in CREDENTIALS:
            return True
        return self.captured and (is_secret_header(name) or redact_text(value) != value)


@dataclass(slots=True)
class ProbeReport:
    target: Target
    trials: list[Trial]
    policy: list[Statement] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        """The handshake as given decides, and so does a risky policy (as ``diagnose`` does)."""
        severities: list[Verdict] = [
            diagnosis_of(self.trials[0].handshake).verdict,
            *(s.severity for s in self.policy),
        ]
        return max(severities, key=lambda verdict: SEVERITY_RANK.get(verdict, 0))


def _public_url(url: str, captured: bool) -> tuple[str, list[str]]:
    """The URL without its credentials, and what was taken out: the user:password; for a
    captured URL, the secret query and matrix parameters too."""
    try:
        parts = urlsplit(url)
    except ValueError:  # websockets refuses it too, and the probe says so
        return url, []
    hidden = ["the URL's user:password"] if "@" in parts.netloc else []
    netloc = parts.netloc.rpartition("@")[2]
    if not captured:
        return urlunsplit(parts._replace(netloc=netloc)), hidden
    segments = [_public_params(segment, ";", skip=1) for segment in parts.path.split("/")]
    query, in_query = _public_params(parts.query, "&")
    hidden += [f"URL parameter {name}" for _, names in segments for name in names]
    hidden += [f"URL parameter {name}" for name in in_query]
    path = "/".join(segment for segment, _ in segments)
    return urlunsplit(parts._replace(netloc=netloc, path=path, query=query)), hidden


def _public_params(text: str, separator: str, skip: int = 0) -> tuple[str, list[str]]:
    """``name=value`` pairs joined by ``separator`` without the secret ones, and the names of
    those (the first ``skip`` pieces are not pairs: a path segment before its ``;params``)."""
    if "=" not in text:
        return text, []
    pieces = text.split(separator)
    kept, hidden = pieces[:skip], []
    for piece in pieces[skip:]:
        name, _, value = piece.partition("=")
        if value and (is_secret_param(name) or redact_text(value) != value):
            hidden.append(name)
        else:
            kept.append(piece)
    return separator.join(kept), hidden


def same_origin(url: str) -> str:
    """The Origin a page served from the WebSocket's own host would send."""
    parts = urlsplit(url)
    scheme = "https" if parts.scheme == "wss" else "http"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    port = "" if parts.port in (None, default) else f":{parts.port}"
    return f"{scheme}://{host}{port}"


def _check(url: str) -> None:
    """A URL websockets cannot open (a bad port, a broken IPv6 address) is one line for the
    user, not a traceback."""
    try:
        parse_uri(url)
    except (InvalidURI, ValueError) as e:
        raise Unreachable(f"not a WebSocket URL: {url} ({e})") from None


def variants(target: Target) -> list[Variant]:
    """Every variant to send, the handshake as given first; repeats are sent once."""
    offered = target.sent_subprotocols()[:MOST]
    given = target.origins[0] if target.origins else None
    try:
        own = [Variant("same-origin", same_origin(target.url), offered)]
    except ValueError:  # not a URL: probe() says so before sending anything
        own = []
    candidates = [
        Variant("as given", given, offered),
        *own,
        *(Variant("listed Origin", o, offered) for o in target.origins[1:MOST]),
        Variant("no Origin", None, offered),
        Variant("foreign Origin", FOREIGN_ORIGIN, offered),
        Variant("null Origin", "null", offered),
    ]
    if offered:
        candidates += [Variant("one subprotocol", given, (p,)) for p in offered]
        candidates.append(Variant("no subprotocol", given, ()))
    chosen: list[Variant] = []
    seen: set[tuple[str | None, tuple[str, ...]]] = set()
    for variant in candidates:
        key = (variant.origin, variant.subprotocols)
        if key not in seen:
            seen.add(key)
            chosen.append(variant)
    return chosen


async def probe(target: Target, progress: Callable[[Trial], None] | None = None) -> ProbeReport:
    """Send every variant, one after another; raises Unreachable when the first gets no answer."""
    _check(target.sent_url())
    trials: list[Trial] = []
    for variant in variants(target):
        handshake = await send(target, variant)
        if not trials and handshake.response is None:
            raise Unreachable(f"cannot reach {target.sent_url()}: {handshake.error}")
        trials.append(Trial(variant, handshake))
        if progress is not None:
            progress(trials[-1])
    return ProbeReport(target, trials, infer(trials, target.carries_cookies))


class _Connect(connect):
    """websockets' ``connect``, without following redirects: a browser does not follow them on a
    WebSocket handshake, so the probe reports the 3xx as the browser would get it."""

    def process_redirect(self, exc: Exception) -> Exception | str:
        return exc


async def send(target: Target, variant: Variant) -> Handshake:
    """One handshake, closed with 1000 as soon as it is open; what was sent and what came back."""
    kept: list[ClientConnection] = []

    def keep(*args: Any, **kwargs: Any) -> ClientConnection:
        connection = ClientConnection(*args, **kwargs)
        kept.append(connection)
        return connection

    started = time.time()
    error: str | None = None
    try:
        websocket = await _Connect(
            target.sent_url(),
            origin=None if variant.origin is None else Origin(variant.origin),
            subprotocols=[Subprotocol(p) for p in variant.subprotocols] or None,
            additional_headers=target.sent_headers(),
            user_agent_header=f"wsinspect/{__version__} probe",
            proxy=target.proxy,
            open_timeout=target.timeout,
            close_timeout=target.timeout,
            ssl=_tls(target) if target.url.startswith("wss:") else None,
            create_connection=keep,  # type: ignore[arg-type]
        )
        await websocket.close(1000, "wsinspect probe done")
    except InvalidURI as e:
        raise Unreachable(f"not a WebSocket URL: {e.uri}") from None
    except TimeoutError:
        error = f"no answer within {target.timeout:g} s"
    except InvalidHandshake as e:
        error = str(e)
    except OSError as e:  # asyncio words a refusal "Connect call failed ('127.0.0.1', 9)"
        error = os.strerror(e.errno) if e.errno else str(e) or type(e).__name__
    answered = time.time()
    connection = kept[-1] if kept else None
    request = getattr(connection, "request", None)
    response = getattr(connection, "response", None)
    return Handshake(
        id=f"probe-{started:.6f}",
        started=started,
        answered=answered if response is not None else None,
        url=target.sent_url(),
        request=Request(headers=_headers(request.headers.raw_items() if request else [])),
        response=None if response is None else _response(response),
        error=None if response is not None else error,
    )


def _tls(target: Target) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not target.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _headers(pairs: Iterable[tuple[str, str]]) -> Headers:
    return Headers((str(name), str(value)) for name, value in pairs)


def _response(response: Any) -> Response:
    body = bytes(response.body or b"")
    return Response(
        status=response.status_code,
        reason=response.reason_phrase,
        headers=_headers(response.headers.raw_items()),
        body=body[:BODY_LIMIT].decode("utf-8", "replace"),
        body_truncated=len(body) > BODY_LIMIT,
    )


def run(target: Target) -> ProbeReport:
    """``probe`` for callers outside an event loop (the command line)."""
    return asyncio.run(probe(target))
