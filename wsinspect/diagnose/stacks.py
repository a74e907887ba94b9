"""Which server stack answered, from the status line, headers (names, casing) and body.

Each fingerprint is data: weighted signals, each a test on the handshake's facts with the words that
name it as evidence. Weights combine as independent evidence (1 - product of misses), so two weak
signals make a medium one. Sources: each library's own source, and answers captured from real
servers (tests/).
To recognise a new stack, add a Fingerprint here and its fixes in fixes.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.shared import shared
from wsinspect.model import Stack

Test = Callable[[Facts], bool]
NAMED = 0.5  # a fingerprint at or above this confidence names the stack
RUNNER_UP = 0.4  # below a named stack, still worth a fix


@dataclass(frozen=True, slots=True)
class Signal:
    evidence: str
    weight: float
    test: Test


@dataclass(frozen=True, slots=True)
class Fingerprint:
    name: str
    kind: Literal["server", "proxy"]
    signals: tuple[Signal, ...]


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    kind: Literal["server", "proxy"]
    confidence: float
    evidence: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Recognition:
    """Every fingerprint that matched, best first; the named server and proxy, if any."""

    ranked: tuple[Candidate, ...]

    @property
    def server(self) -> Candidate | None:
        return next((c for c in self.ranked if c.kind == "server" and c.confidence >= NAMED), None)

    @property
    def proxy(self) -> Candidate | None:
        return next((c for c in self.ranked if c.kind == "proxy" and c.confidence >= NAMED), None)

    def names(self) -> list[str]:
        """Stacks to offer fixes for: the named ones first, then close runners-up (Django
        Channels behind uvicorn looks like Starlette on the wire), or every candidate."""
        named = [c.name for c in (self.server, self.proxy) if c is not None]
        if not named:
            return [c.name for c in self.ranked]
        close = [c.name for c in self.ranked if c.confidence >= RUNNER_UP and c.name not in named]
        return named + close

    def stack(self) -> Stack | None:
        server, proxy = self.server, self.proxy
        best = server or proxy
        if best is None:
            if not self.ranked:
                return None
            likely = ", ".join(f"{c.name} ({c.confidence:.0%})" for c in self.ranked[:3])
            return Stack("unknown", 0.0, (shared(f"not recognised; closest: {likely}"),))
        evidence = list(best.evidence)
        if server is not None and proxy is not None:
            evidence += [shared(f"behind {proxy.name}: {e}") for e in proxy.evidence]
        return Stack(best.name, round(best.confidence, 2), tuple(evidence))


# -- tests over the facts -------------------------------------------------------------------


def body_matches(pattern: str) -> Test:
    compiled = re.compile(pattern, re.DOTALL)
    return lambda f: bool(compiled.search(f.body))


def header_matches(name: str, pattern: str) -> Test:
    compiled = re.compile(pattern, re.IGNORECASE)
    return lambda f: any(compiled.search(v) for v in f.response.get_all(name))


def header_spelled(name: str) -> Test:
    """A header written with exactly this casing: servers differ in how they spell names."""
    return lambda f: any(k == name for k, _ in f.response)


def status_is(*codes: int) -> Test:
    return lambda f: f.status in codes


def both(*tests: Test) -> Test:
    return lambda f: all(t(f) for t in tests)


def go_http_error(f: Facts) -> bool:
    """Go's http.Error: text/plain with charset, nosniff, body ending in a newline."""
    return (
        f.response.get("Content-Type") == "text/plain; charset=utf-8"
        and f.response.get("X-Content-Type-Options") == "nosniff"
        and f.body.endswith("\n")
    )


def node_ws_abort(f: Facts) -> bool:
    """ws's abortHandshake: Connection, Content-Type (so spelled) text/html, Content-Length only."""
    names = {k for k, _ in f.response}
    return (
        f.status not in (None, 101)
        and names == {"Connection", "Content-Type", "Content-Length"}
        and f.response.get("Content-Type") == "text/html"
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
    return f.body.startswith("Failed to open a WebSocket connection:")


def path_has(pattern: str) -> Test:
    compiled = re.compile(pattern)
    return lambda f: bool(compiled.search(f.path + ("?" + f.query if f.query else "")))


def offers(protocol: str) -> Test:
    return lambda f: protocol in f.offered


FINGERPRINTS: tuple[Fingerprint, ...] = (
    Fingerprint(
        "coder/websocket",
        "server",
        (
            Signal(
                'body "request Origin … is not authorized for Host …" (coder/websocket)',
                0.97,
                body_matches(r'^request Origin ".*" is not authorized for Host ".*"\n?$'),
            ),
            Signal(
                'body "request Origin … is not a valid URL with a host"',
                0.97,
                body_matches(r'^request Origin ".*" is not a valid URL with a host'),
            ),
            Signal(
                'body starts "WebSocket protocol violation:"',
                0.9,
                body_matches(r"^WebSocket protocol violation:"),
            ),
            Signal(
                'body "unsupported WebSocket protocol version (only 13 is supported)"',
                0.8,
                body_matches(r"only 13 is supported"),
            ),
            Signal(
                "Go http.Error headers (text/plain; charset=utf-8, nosniff)", 0.1, go_http_error
            ),
        ),
    ),
    Fingerprint(
        "gorilla/websocket",
        "server",
        (
            Signal(
                '"Sec-Websocket-Version: 13" spelled in Go\'s casing on a refusal',
                0.9,
                both(header_spelled("Sec-Websocket-Version"), lambda f: f.status != 101),
            ),
            Signal(
                "body is the bare status text (gorilla's http.Error)",
                0.2,
                body_matches(r"^(Forbidden|Bad Request|Method Not Allowed)\n$"),
            ),
            Signal(
                "Go http.Error headers (text/plain; charset=utf-8, nosniff)", 0.1, go_http_error
            ),
        ),
    ),
    Fingerprint(
        "Python websockets",
        "server",
        (
            Signal(
                'body "Failed to open a WebSocket connection: …", charset=utf-8 (websockets >= 14)',
                0.9,
                both(websockets_body, header_matches("Content-Type", r"charset=utf-8")),
            ),
            Signal("Server: … websockets/…", 0.7, header_matches("Server", r"\bwebsockets/")),
        ),
    ),
    Fingerprint(
        "Python websockets (legacy)",
        "server",
        (
            Signal(
                'body "Failed to open a WebSocket connection: …" as text/plain without charset '
                "(websockets legacy server, as used by uvicorn)",
                0.9,
                both(websockets_body, lambda f: f.response.get("Content-Type") == "text/plain"),
            ),
            Signal("Server: … websockets/…", 0.6, header_matches("Server", r"\bwebsockets/")),
        ),
    ),
    Fingerprint(
        "Node ws",
        "server",
        (
            Signal(
                "refusal with only Connection, Content-Type: text/html and Content-Length "
                "(no Date, no Server: ws's abortHandshake)",
                0.8,
                node_ws_abort,
            ),
            Signal(
                '426 "Upgrade Required" without Date (ws answering a plain HTTP request)',
                0.6,
                both(
                    status_is(426),
                    body_matches(r"^Upgrade Required$"),
                    lambda f: not f.response.has("Date"),
                ),
            ),
        ),
    ),
    Fingerprint(
        "Socket.IO",
        "server",
        (
            Signal("request path /socket.io/ with EIO=", 0.6, path_has(r"/socket\.io/.*EIO=")),
            Signal(
                'Engine.IO error body {"code":…,"message":…}',
                0.8,
                body_matches(r'^\{"code":\d+,"message":"[^"]*"\}$'),
            ),
            Signal(
                '"Content-type" spelled with a lowercase t (Engine.IO)',
                0.5,
                header_spelled("Content-type"),
            ),
        ),
    ),
    Fingerprint(
        "Starlette/FastAPI (uvicorn)",
        "server",
        (
            Signal(
                "empty 403 with Content-Length: 0 and no Server header (uvicorn's refusal)",
                0.45,
                empty_refusal,
            ),
            Signal("Server: uvicorn", 0.9, header_matches("Server", r"^uvicorn")),
            Signal(
                "Date, Connection: close, empty text/plain and no Server (uvicorn refusing "
                "through websockets)",
                0.3,
                lambda f: (
                    empty_refusal(f)
                    and f.response.has("Date")
                    and f.response.get("Connection") == "close"
                ),
            ),
            Signal(
                'status line "403 " with no reason phrase (uvicorn --ws wsproto)',
                0.3,
                lambda f: (
                    f.status == 403
                    and f.handshake.response is not None
                    and not f.handshake.response.reason
                ),
            ),
        ),
    ),
    Fingerprint(
        "Django Channels",
        "server",
        (
            Signal(
                "empty 403 with no Server header (Channels' OriginValidator behind an ASGI server)",
                0.4,
                empty_refusal,
            ),
            Signal("Server: daphne", 0.9, header_matches("Server", r"daphne")),
        ),
    ),
    Fingerprint(
        "Spring",
        "server",
        (
            Signal(
                "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers "
                "(Spring's CORS processing on the handshake)",
                0.75,
                lambda f: (
                    {"origin", "access-control-request-method", "access-control-request-headers"}
                    <= {t.lower() for t in f.response.tokens("Vary")}
                ),
            ),
            Signal(
                "SockJS path …/{server}/{session}/websocket",
                0.3,
                path_has(r"/\d+/[^/]+/websocket$"),
            ),
        ),
    ),
    Fingerprint(
        "ASP.NET Core",
        "server",
        (Signal("Server: Kestrel", 0.9, header_matches("Server", r"^Kestrel")),),
    ),
    Fingerprint(
        "Phoenix",
        "server",
        (
            Signal(
                "request path …/websocket?vsn= (Phoenix socket)",
                0.6,
                path_has(r"/websocket\?(.*&)?vsn="),
            ),
            Signal("Server: Cowboy or Bandit", 0.6, header_matches("Server", r"^(Cowboy|Bandit)")),
            Signal(
                "cache-control: max-age=0, private, must-revalidate in lowercase (Plug)",
                0.4,
                lambda f: ("cache-control", "max-age=0, private, must-revalidate") in f.response,
            ),
        ),
    ),
    Fingerprint(
        "Rails ActionCable",
        "server",
        (
            Signal(
                '404 "Page not found" as text/plain (ActionCable refusing the Origin)',
                0.8,
                both(status_is(404), body_matches(r"^Page not found$")),
            ),
            Signal("offered subprotocol actioncable-v1-json", 0.7, offers("actioncable-v1-json")),
            Signal("request path /cable", 0.3, path_has(r"^/cable$")),
        ),
    ),
    Fingerprint(
        "aiohttp",
        "server",
        (
            Signal("Server: … aiohttp/…", 0.9, header_matches("Server", r"\baiohttp/")),
            Signal(
                'body "No WebSocket UPGRADE hdr"', 0.8, body_matches(r"No WebSocket UPGRADE hdr")
            ),
        ),
    ),
    Fingerprint(
        "nginx",
        "proxy",
        (
            Signal("Server: nginx", 0.9, header_matches("Server", r"^nginx")),
            Signal(
                "nginx error page (<center>nginx</center>)", 0.9, body_matches(r"<center>nginx")
            ),
        ),
    ),
    Fingerprint(
        "Caddy", "proxy", (Signal("Server: Caddy", 0.9, header_matches("Server", r"^Caddy")),)
    ),
    Fingerprint(
        "Apache",
        "proxy",
        (
            Signal("Server: Apache", 0.9, header_matches("Server", r"^Apache")),
            Signal(
                "Apache proxy error page", 0.7, body_matches(r"<title>50\d Proxy Error</title>")
            ),
        ),
    ),
    Fingerprint(
        "Envoy",
        "proxy",
        (
            Signal("server: envoy", 0.9, header_matches("Server", r"^envoy")),
            Signal(
                "x-envoy-upstream-service-time header",
                0.6,
                lambda f: f.response.has("x-envoy-upstream-service-time"),
            ),
            Signal(
                'body "upstream connect error or disconnect/reset before headers"',
                0.8,
                body_matches(r"^upstream connect error or disconnect/reset before headers"),
            ),
        ),
    ),
    Fingerprint(
        "HAProxy",
        "proxy",
        (
            Signal(
                "HAProxy error page (No server is available / didn't respond in time)",
                0.9,
                body_matches(
                    r"No server is available to handle this request"
                    r"|The server didn't respond in time"
                ),
            ),
        ),
    ),
    Fingerprint(
        "Traefik",
        "proxy",
        (
            Signal(
                '"404 page not found" (Traefik: no router matched)',
                0.5,
                both(status_is(404), body_matches(r"^404 page not found\n$")),
            ),
            Signal(
                '502 "Bad Gateway" body (Traefik)',
                0.4,
                both(status_is(502), body_matches(r"^Bad Gateway$")),
            ),
        ),
    ),
    Fingerprint(
        "AWS ALB", "proxy", (Signal("Server: awselb", 0.95, header_matches("Server", r"^awselb")),)
    ),
    Fingerprint(
        "Cloudflare",
        "proxy",
        (
            Signal("Server: cloudflare", 0.9, header_matches("Server", r"^cloudflare")),
            Signal("CF-RAY header", 0.9, lambda f: f.response.has("CF-RAY")),
        ),
    ),
    Fingerprint(
        "dev-server proxy (Vite, webpack-dev-server)",
        "proxy",
        (
            Signal("X-Powered-By: Express", 0.4, header_matches("X-Powered-By", r"Express")),
            Signal(
                "page on a dev server's port (3000, 4200, 5173, 8080), server elsewhere",
                0.2,
                lambda f: (
                    f.origin_endpoint is not None
                    and f.cross_origin
                    and f.origin_endpoint.host in ("localhost", "127.0.0.1")
                    and f.origin_endpoint.port in (3000, 4200, 5173, 8080)
                ),
            ),
        ),
    ),
)


def recognise(facts: Facts) -> Recognition:
    candidates = []
    for fingerprint in FINGERPRINTS:
        matched = [s for s in fingerprint.signals if s.test(facts)]
        if not matched:
            continue
        miss = 1.0
        for signal in matched:
            miss *= 1.0 - signal.weight
        confidence = min(0.99, 1.0 - miss)
        evidence = tuple(s.evidence for s in matched)
        candidates.append(Candidate(fingerprint.name, fingerprint.kind, confidence, evidence))
    candidates.sort(key=lambda c: c.confidence, reverse=True)
    return Recognition(tuple(candidates))
