"""One rule per finding code: does this handshake show it, and what proves it.

Each rule reads the facts and the recognised stack and returns a Finding or None. Codes, titles and
pages are stable (docs/rules/<code>.md; docs/architecture.md says how to add one); explanations
quote the values seen on the wire.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from wsinspect.diagnose import closecodes, lifetime
from wsinspect.diagnose.facts import Facts, expected_accept
from wsinspect.diagnose.fixes import fixes_for
from wsinspect.diagnose.shared import shared
from wsinspect.diagnose.stacks import Recognition
from wsinspect.diagnose.tls import client_distrusts_proxy, upstream_cert_invalid
from wsinspect.model import Finding, Message, Severity, Violation

# The stable finding codes, each with a page docs/rules/<code>.md.
CODES = (
    "origin-rejected",
    "subprotocol-not-selected",
    "subprotocol-not-offered",
    "upgrade-headers-missing",
    "version-unsupported",
    "accept-mismatch",
    "not-upgraded",
    "redirected",
    "unauthorized",
    "not-found",
    "upstream-failed",
    "upstream-cert-invalid",  # diagnose/tls.py
    "client-distrusts-proxy",  # diagnose/tls.py
    "cross-origin-accepted",
    "closed-abnormally",
    "handshake-rejected",  # the catch-all, so that no refusal reads as ok
    "engineio-session-unknown",
    "engineio-version-mismatch",
    "engineio-transport-unknown",
    "refused-without-origin",
    "refused-after-upgrade",
    "wildcard-origin-with-credentials",
    "connection-matched-exactly",
    "idle-timeout",
    "closed-while-connecting",
    "protocol-violation",
)

CHROME_FAILED = (
    "Chrome logs `WebSocket connection to '…' failed: {why}`; the page only sees close 1006."
)


def chrome_unexpected(status: int | None) -> str:
    """What Chrome says about a handshake answered with something other than 101."""
    return CHROME_FAILED.format(why=f"Unexpected response code: {status}")


CORS_NOTE = (
    "CORS response headers (Access-Control-Allow-Origin and friends) play no part in a WebSocket "
    "handshake: adding them does not fix this. The server's own Origin check does."
)


@dataclass(frozen=True, slots=True)
class Context:
    facts: Facts
    recognition: Recognition
    origin_refusal: str | None  # why the answer is an Origin refusal; three rules ask
    engineio: EngineIOCause | None  # an Engine.IO refusal in its own words: other rules defer

    @classmethod
    def of(cls, facts: Facts, recognition: Recognition) -> Context:
        engineio = engineio_cause(facts)
        origin = None if engineio else _origin_refusal(facts, recognition)
        return cls(facts, recognition, origin, engineio)

    def finding(
        self,
        code: str,
        severity: Severity,
        title: str,
        explanation: str,
        evidence: dict[str, str],
        *,
        own_origin: bool = False,
    ) -> Finding:
        assert code in CODES, code
        fixes = fixes_for(code, self.recognition, self.facts, own=own_origin)
        evidence = {name: shared(value) for name, value in evidence.items()}
        return Finding(code, severity, shared(title), shared(explanation), evidence, tuple(fixes))

    def answer(self) -> dict[str, str]:
        """Status line and a short body: evidence every refusal carries."""
        f = self.facts
        response = f.handshake.response
        if response is None:
            return {"Error": f.handshake.error or "no answer"}
        evidence = {"Status": f"{response.status} {response.reason}".strip()}
        if f.body:
            body = f.body.strip()
            evidence["Body"] = body if len(body) <= 200 else body[:200] + "…"
        return evidence


Rule = Callable[[Context], Finding | None]


def rule_page(code: str) -> str:
    return f"docs/rules/{code}.md"


# -- answers that never reached a WebSocket ------------------------------------------------


def upstream_failed(ctx: Context) -> Finding | None:
    f = ctx.facts
    error = f.handshake.error
    if upstream_cert_invalid(ctx) or client_distrusts_proxy(ctx):
        return None  # a failed TLS handshake has a finding of its own (diagnose/tls.py)
    if f.handshake.response is None and error:
        lowered = error.lower()
        if lowered.startswith("the client left"):
            return None  # the client went first, e.g. the page was closed: not the server's doing
        if "refused" in lowered or "connect call failed" in lowered:
            why = "nothing listens at that address (connection refused)"
        elif "timed out" in lowered or "timeout" in lowered or "no answer within" in lowered:
            why = "the server did not answer in time"
        elif lowered.startswith(("invalid request", "bad http request")):
            why = "the proxy could not forward the request, which is malformed"
        elif "tls" in lowered or "ssl" in lowered or "certificate" in lowered:
            why = "the TLS handshake with the server failed"
        elif "reset" in lowered or "closed" in lowered:
            why = "the server closed the connection without answering"
        else:
            why = "the connection to the server failed"
        return ctx.finding(
            "upstream-failed",
            "error",
            "No answer from the server",
            f"The handshake got no HTTP answer: {why}. "
            + CHROME_FAILED.format(why="net::ERR_CONNECTION_REFUSED or similar"),
            {"Error": error, "Host": f.host or ""},
        )
    if f.status in (502, 503, 504):
        gateway = ctx.recognition.proxy
        who = f"{gateway.name} (a gateway)" if gateway else "A gateway in front of the server"
        return ctx.finding(
            "upstream-failed",
            "error",
            f"{f.status} from a gateway: the WebSocket server behind it failed",
            f"{who} answered {f.status}: it could not reach the WebSocket server, or the server "
            "dropped the upgrade (nginx without upgrade headers speaks HTTP/1.0 upstream). "
            + chrome_unexpected(f.status),
            ctx.answer(),
        )
    return None


def redirected(ctx: Context) -> Finding | None:
    f = ctx.facts
    if f.status is None or not 300 <= f.status < 400:
        return None
    location = f.response.get("Location") or "(none)"
    return ctx.finding(
        "redirected",
        "error",
        f"Redirected ({f.status}): browsers do not follow redirects on a WebSocket",
        f"The server answered {f.status} to {location}. A browser never follows a redirect on a "
        "WebSocket handshake, so the connection fails. Typical causes: http -> https, a missing "
        "or extra trailing slash, a login page. " + chrome_unexpected(f.status),
        {**ctx.answer(), "Location": location},
    )


def not_upgraded(ctx: Context) -> Finding | None:
    f = ctx.facts
    if f.status is None or not 200 <= f.status < 300:
        return None
    kind = f.response.get("Content-Type") or "no Content-Type"
    return ctx.finding(
        "not-upgraded",
        "error",
        f"{f.status} instead of 101: the request never reached a WebSocket server",
        f"The answer was an ordinary {f.status} ({kind}), not 101 Switching Protocols. Something "
        "served the path as a page: an SPA fallback, a dev server without `ws: true`, or a proxy "
        "that dropped the Upgrade header. " + chrome_unexpected(f.status),
        {**ctx.answer(), "Content-Type": kind, "Upgrade": f.request.get("Upgrade") or "(none)"},
    )


# -- Engine.IO (Socket.IO's transport) -------------------------------------------------------
# Engine.IO refuses an upgrade with a 400 whose body is its reason: plain text from Node's
# engine.io ("Session ID unknown"), a JSON string from python-engineio ("Invalid session …"), or
# {"code":…,"message":…} when the request reached it as plain HTTP. The reason is the diagnosis.


@dataclass(frozen=True, slots=True)
class EngineIOCause:
    """One of Engine.IO's refusals that is not about the Origin: its code and what it means."""

    code: str
    title: str
    meaning: str
    said: str = ""  # the reason as the server wrote it (filled in when matched)


ENGINEIO_CAUSES: tuple[tuple[re.Pattern[str], EngineIOCause], ...] = (
    (
        re.compile(r"Session ID unknown|Invalid session\b.{0,80}"),
        EngineIOCause(
            "engineio-session-unknown",
            "Engine.IO does not know the session: no sticky sessions?",
            "the upgrade names a session (sid) that this server process never opened. The "
            "client opened it by HTTP long-polling on another instance: with several server "
            "processes or machines behind a load balancer, every request of one session must "
            "reach the same one (sticky sessions), or the client must skip polling",
        ),
    ),
    (
        re.compile(
            r"Unsupported protocol version"
            r"|The client is using an unsupported version of the Socket\.IO or Engine\.IO protocols"
        ),
        EngineIOCause(
            "engineio-version-mismatch",
            "Engine.IO protocol versions differ between client and server",
            "the client speaks another Engine.IO protocol version (the EIO= of the URL) than the "
            "server: a Socket.IO 2 client (EIO=3) against a Socket.IO 3/4 server, or the reverse",
        ),
    ),
    (
        re.compile(r"Transport unknown|Invalid transport"),
        EngineIOCause(
            "engineio-transport-unknown",
            "Engine.IO refuses the transport the client asked for",
            "the transport= of the URL is not one the server allows: the server's `transports` "
            "option leaves out websocket, or the client asks for a transport by another name",
        ),
    ),
)
_ENGINEIO_JSON = re.compile(r'^\{"code":\d+,"message":"(?P<message>[^"]{0,200})"\}$')
# How Node's engine.io words its refusals: recognised as Engine.IO's even without EIO= in the URL.
_NODE_WORDS = frozenset({"Session ID unknown", "Unsupported protocol version", "Transport unknown"})


def _engineio_message(body: str) -> str:
    """The reason alone: Node's text, python-engineio's JSON string, or the JSON message."""
    body = body.strip()
    if match := _ENGINEIO_JSON.match(body):
        return match["message"]
    if len(body) >= 2 and body[0] == body[-1] == '"':
        return body[1:-1]
    return body


def engineio_cause(f: Facts) -> EngineIOCause | None:
    """Engine.IO's own reason for a refusal, when it is not about the Origin."""
    if f.status is None or f.status == 101:
        return _engineio_after_upgrade(f)
    said = _engineio_message(f.body)
    speaks_engineio = "EIO=" in f.query or said in _NODE_WORDS
    for pattern, cause in ENGINEIO_CAUSES:
        if speaks_engineio and pattern.fullmatch(said):
            return EngineIOCause(cause.code, cause.title, cause.meaning, said)
    if speaks_engineio and said == "Forbidden" and f.origin and not f.cross_origin:
        return replace(_FORBIDDEN_SAME_ORIGIN, said=said)
    return None


# Node's engine.io says "Forbidden" when the app's allowRequest refuses: to the page's own origin,
# its check is about something else (a cookie, a token), not the Origin.
_FORBIDDEN_SAME_ORIGIN = EngineIOCause(
    "unauthorized",
    "Socket.IO's allowRequest refused a same-origin request: not about the Origin",
    "the app's allowRequest callback refused the request, and its Origin is the server's own "
    "host, so what it checks is something else: a cookie, a token in the query, a header "
    "(browsers cannot add headers to a WebSocket)",
)


def _engineio_after_upgrade(f: Facts) -> EngineIOCause | None:
    """Node's engine.io refuses an old client (EIO=3) after the 101: its 400 comes on the socket."""
    written = http_after_upgrade(f)
    if written is None or not re.search(r"(?:^|&)EIO=[123](?:&|$)", f.query):
        return None
    _, version = ENGINEIO_CAUSES[1]
    return EngineIOCause(version.code, version.title, version.meaning, written)


def engineio_refused(ctx: Context) -> Finding | None:
    cause = ctx.engineio
    if cause is None:
        return None
    f = ctx.facts
    eio = re.search(r"(?:^|&)EIO=([^&]*)", f.query)
    transport = re.search(r"(?:^|&)transport=([^&]*)", f.query)
    evidence = {
        **ctx.answer(),
        "Engine.IO says": cause.said,
        "EIO (protocol version asked)": eio[1] if eio else "(none)",
        "transport (asked)": transport[1] if transport else "(none)",
    }
    refused = f"Engine.IO refused the upgrade with its reason `{cause.said}`"
    browsers = chrome_unexpected(f.status)
    if f.status == 101:
        evidence["Status"] = "101, then on the socket: " + cause.said
        refused = f"Engine.IO answered 101, then wrote `{cause.said}` onto the socket"
        browsers = (
            "Chrome logs `WebSocket connection to '…' failed: One or more reserved bits are on` "
            "(the HTTP answer read as a frame); the page only sees close 1006."
        )
    return ctx.finding(
        cause.code,
        "error",
        cause.title,
        f"{refused}: {cause.meaning}. The Origin is not what it objects to. {browsers}",
        evidence,
    )


# -- refusals ------------------------------------------------------------------------------


def _origin_refusal(f: Facts, recognition: Recognition) -> str | None:
    """Why the answer is an Origin refusal, or None: the body says so, or the shape does (a
    recognised stack's own shape: its record's refusals)."""
    if f.body_has("is not authorized for Host", "is not a valid URL with a host"):
        return "the server's own message says the Origin is not authorized"
    if f.body_has("invalid Origin header", "missing Origin header"):
        return "the server's own message says the Origin header is not allowed"
    refusal = f.status is not None and 400 <= f.status < 500  # a 5xx page's "origin server…"
    if refusal and _ORIGIN_REFUSED.search(f.body[:2000]):
        return f"the server's own message says so ({f.status} `{_quote(f.body)}`)"
    if f.origin is None:
        return None
    if refusal and _names_origin(f):
        return f"the server's own message names it ({f.status} `{_quote(f.body)}`)"
    in_its_own_words = recognition.refusal("origin-rejected", f)
    if in_its_own_words is not None:
        return in_its_own_words
    if f.status == 403 and f.cross_origin:
        return "403 to a request whose Origin is not the host it was sent to"
    return None


# A refusal's body that speaks of refusing an Origin, in any status: "origin not allowed",
# "Origin mismatch", "not an accepted origin", "invalid origin", "missing Origin".
_ORIGIN_REFUSED = re.compile(
    r"\borigin\b[^.\n]{0,40}\b(?:not (?:allowed|accepted|permitted|authori[sz]ed)|forbidden"
    r"|denied|rejected|refused|mismatch)"
    r"|\b(?:invalid|disallowed|forbidden|unknown|untrusted|missing|bad) origin\b"
    r"|\bnot an? (?:accepted|allowed|valid|trusted) origin\b",
    re.IGNORECASE,
)


def _names_origin(f: Facts) -> bool:
    """The refusal's body quotes the Origin the client sent, and speaks of origins."""
    origin = f.origin or ""
    body = f.body[:2000]
    return len(origin) > 4 and origin in body and "origin" in body.lower()


def _quote(body: str) -> str:
    """A body short enough to quote in a sentence."""
    body = " ".join(body.split())
    return body if len(body) <= 100 else body[:100] + "…"


def origin_rejected(ctx: Context) -> Finding | None:
    why = ctx.origin_refusal
    if why is None:
        return None
    f = ctx.facts
    host = f.host or ""
    explanation = (
        f"The server refused the Origin {f.origin or '(none)'}: {why}. Browsers always send the "
        "page's origin, and the server must list it. "
    )
    if (
        f.origin_endpoint
        and f.origin_endpoint.host in ("localhost", "127.0.0.1")
        and f.cross_origin
    ):
        explanation += (
            f"The page ({f.origin_host}) and the server ({host}) differ only by host or port, "
            "which is enough: same-host checks (coder/websocket and gorilla/websocket by default) "
            "compare host[:port] exactly. If a proxy in front rewrote Host (a dev server with "
            "changeOrigin, nginx without `proxy_set_header Host $host`), the server sees its "
            "own address as Host while the Origin stays the page's. "
        )
    explanation += CORS_NOTE + " " + chrome_unexpected(f.status)
    evidence = {"Origin": f.origin or "(none)", "Host": host, **ctx.answer()}
    return ctx.finding(
        "origin-rejected",
        "error",
        f"Origin {f.origin} refused by the server" if f.origin else "Refused for sending no Origin",
        explanation,
        evidence,
    )


# Words of a refusal about credentials: a 403 saying these is about authentication.
_CREDENTIAL_WORDS = re.compile(
    r"auth|token|log ?in|credential|password|session|cookie|jwt|api.?key", re.IGNORECASE
)


def _refused_for_no_origin(f: Facts) -> bool:
    """A 403 to a request without Origin whose body does not speak of credentials: any browser
    sends an Origin, so this is a script's request, and the Origin it lacks may be the reason."""
    return f.status == 403 and f.origin is None and not _CREDENTIAL_WORDS.search(f.body[:2000])


def refused_without_origin(ctx: Context) -> Finding | None:
    f = ctx.facts
    if ctx.origin_refusal or not _refused_for_no_origin(f):
        return None
    said = f"its body says `{_quote(f.body)}`" if f.body.strip() else "its body is empty"
    return ctx.finding(
        "refused-without-origin",
        "error",
        "403 to a request without Origin: refused, maybe for the missing Origin",
        f"The server refused with 403, and {said}. The request carried no Origin header, which "
        "browsers always send: it came from a script, a command-line client or a proxy that "
        "drops the header. Servers that check origins often refuse a handshake without one "
        "(Python websockets with origins=[...], Django Channels' origin validators), so the "
        "missing Origin may itself be the reason; the 403 alone does not say it is about "
        "credentials. " + chrome_unexpected(f.status),
        {**ctx.answer(), "Origin": "(none)"},
    )


def unauthorized(ctx: Context) -> Finding | None:
    f = ctx.facts
    if f.status not in (401, 403) or ctx.origin_refusal or _refused_for_no_origin(f):
        return None
    sent = [name for name in ("Cookie", "Authorization") if f.request.has(name)]
    credentials = ", ".join(sent) if sent else "no Cookie and no Authorization header"
    return ctx.finding(
        "unauthorized",
        "error",
        f"{f.status}: the server wants credentials it did not get",
        f"The server answered {f.status}, and the Origin ({f.origin or 'none'}) is not what it "
        f"objects to: the request carried {credentials}. Browsers cannot add an Authorization "
        "header to a WebSocket; they send the cookies of the server's host only. "
        + chrome_unexpected(f.status),
        {**ctx.answer(), "Credentials sent": credentials, "Origin": f.origin or "(none)"},
    )


# Spring (CorsConfiguration.validateAllowCredentials) and ASP.NET Core (CorsService) refuse to
# combine a wildcard origin with credentials, with an exception: a 500 whose page names it.
# Error pages often hide the message (Spring Boot does by default): a 500 to a cross-origin SockJS
# WebSocket (…/{server}/{session}/websocket) is then the likely case, and said to be likely.
_WILDCARD_WITH_CREDENTIALS = re.compile(
    r"allowCredentials is true, allowedOrigins cannot contain the special value "
    r"(?:\"|&quot;|&#34;)\*(?:\"|&quot;|&#34;)"
    r"|does not allow specifying a wildcard \(any\) origin and credentials",
)
_SOCKJS_WEBSOCKET = re.compile(r"/\d{1,3}/[^/]{1,64}/websocket$")


def wildcard_origin_with_credentials(ctx: Context) -> Finding | None:
    f = ctx.facts
    if f.status is None or f.status < 500 or f.status in (502, 503, 504):
        return None
    said = _WILDCARD_WITH_CREDENTIALS.search(f.body[:20000])
    if said is None:
        if not (f.status == 500 and f.cross_origin and _SOCKJS_WEBSOCKET.search(f.path)):
            return None
        return ctx.finding(
            "wildcard-origin-with-credentials",
            "error",
            '500 to a cross-origin SockJS WebSocket: likely allowed origins "*" with credentials',
            f"The server failed (500) on a SockJS WebSocket ({f.path}) from another origin "
            f"({f.origin}), and its body does not say why. The usual cause: Spring's "
            '`setAllowedOrigins("*")` with `.withSockJS()`: SockJS always uses credentials, and '
            "a wildcard origin with credentials throws in the CORS check (its log has "
            "`When allowCredentials is true, allowedOrigins cannot contain the special value "
            '"*"`). Check the server\'s log to confirm. ' + chrome_unexpected(f.status),
            {**ctx.answer(), "Path": f.path, "Origin": f.origin or "(none)"},
        )
    return ctx.finding(
        "wildcard-origin-with-credentials",
        "error",
        f'{f.status}: allowed origins "*" together with credentials',
        f"The server failed ({f.status}) while checking the Origin: its configuration allows "
        f'every origin ("*") and credentials at once, which its CORS code refuses to do '
        f"(`{said[0]}`). Spring's SockJS endpoints always use credentials, so "
        '`setAllowedOrigins("*")` with `.withSockJS()` fails every cross-origin handshake. '
        + chrome_unexpected(f.status),
        {**ctx.answer(), "Server error": said[0], "Origin": f.origin or "(none)"},
    )


def not_found(ctx: Context) -> Finding | None:
    f = ctx.facts
    if f.status != 404 or ctx.origin_refusal:
        return None
    return ctx.finding(
        "not-found",
        "error",
        f"404: nothing serves WebSockets at {f.path}",
        f"The server has no WebSocket endpoint at {f.path}: a wrong path, a mount point the "
        "server does not serve, or a proxy route that does not match. "
        + CHROME_FAILED.format(why="Unexpected response code: 404"),
        {**ctx.answer(), "Path": f.path},
    )


# -- the handshake's own headers ------------------------------------------------------------

_VERSION_WORDS = ("only 13 is supported", "unsupported version", "Sec-WebSocket-Version")


def version_unsupported(ctx: Context) -> Finding | None:
    f = ctx.facts
    sent = f.request.get("Sec-WebSocket-Version")
    if sent == "13" and not (f.status in (400, 426) and f.body_has(*_VERSION_WORDS)):
        return None
    if sent == "13" and ctx.engineio is not None:
        return None  # Engine.IO's own protocol version, not the WebSocket's
    if sent is None and (f.status == 101 or f.status is None):
        return None  # no answer: a browser's HAR records no request headers then
    return ctx.finding(
        "version-unsupported",
        "error",
        f"Sec-WebSocket-Version {sent or '(missing)'} is not 13",
        "RFC 6455 defines version 13 only; servers refuse anything else (426 naming the versions "
        "they support, or 400).",
        {"Sec-WebSocket-Version": sent or "(missing)", **ctx.answer()},
    )


_UPGRADE_REFUSALS = (
    "WebSocket protocol violation: Connection header",
    "WebSocket protocol violation: Upgrade header",
    "missing Connection header",
    "missing Upgrade header",
    "invalid Connection header",
    "invalid Upgrade header",
    "No WebSocket UPGRADE hdr",
    "Upgrade Required",
)


def _has_token(value: str | None, token: str) -> bool:
    return value is not None and token in (t.strip().lower() for t in value.split(","))


def _several_connection_tokens(f: Facts) -> str | None:
    """The request's Connection when it holds upgrade and more: Firefox sends `keep-alive,
    Upgrade`, which a server comparing the whole header with "Upgrade" refuses."""
    sent = f.request.get("Connection")
    tokens = [t.strip().lower() for t in (sent or "").split(",") if t.strip()]
    return sent if "upgrade" in tokens and len(tokens) > 1 else None


# The Connection value a refusal says it got: `invalid Connection header: Keep-Alive.`
# (websockets), `Connection header "keep-alive" does not contain Upgrade` (coder/websocket).
_RECEIVED_CONNECTION = re.compile(
    r"Connection header:?\s*(?:\"([^\"\n]{1,80})\"|'([^'\n]{1,80})'"
    r"|([\w-]+(?:\s*,\s*[\w-]+){0,5})\s*(?:[.\n]|$))",
    re.IGNORECASE,
)


def _connection_matched_exactly(ctx: Context) -> bool:
    """A refusal complaining about Connection/Upgrade to a request whose Connection lists upgrade
    among other tokens. When the body quotes the value the server got, that decides (the one
    sent: the server refused it; another: something in between rewrote it); else only when no
    proxy in between is recognised."""
    f = ctx.facts
    sent = _several_connection_tokens(f)
    if sent is None or f.status not in (400, 426) or ctx.engineio:
        return False
    if f.body_has(*_VERSION_WORDS) or f.request.get("Sec-WebSocket-Version") != "13":
        return False
    body = f.body[:2000]
    if f.status != 426 and not re.search(r"connection|upgrade", body, re.IGNORECASE):
        return False
    received = _RECEIVED_CONNECTION.search(body)
    if received is not None:
        got = next(g for g in received.groups() if g is not None)
        return got.strip().lower() == sent.strip().lower()
    return ctx.recognition.proxy is None


def connection_matched_exactly(ctx: Context) -> Finding | None:
    f = ctx.facts
    if not _connection_matched_exactly(ctx):
        return None
    sent = f.request.get("Connection") or ""
    return ctx.finding(
        "connection-matched-exactly",
        "error",
        f"Refused `Connection: {sent}`: the server wants the header to be exactly `Upgrade`",
        f"The request asked to upgrade (`Upgrade: websocket`, `Connection: {sent}`), and the "
        f"server refused with {f.status}, complaining about the upgrade headers. Connection is a "
        "comma-separated list (RFC 9110): Firefox sends `keep-alive, Upgrade`, Chrome "
        "`Upgrade`. A check that compares the whole header with `Upgrade` refuses Firefox "
        "only, so the same page works in Chrome. No proxy in front is needed to explain it. "
        + chrome_unexpected(f.status),
        {
            "Connection (request)": sent,
            "Upgrade (request)": f.request.get("Upgrade") or "",
            **ctx.answer(),
        },
    )


def upgrade_headers_missing(ctx: Context) -> Finding | None:
    f = ctx.facts
    if _connection_matched_exactly(ctx):
        return None  # connection_matched_exactly says why
    request_ok = _has_token(f.request.get("Upgrade"), "websocket") and _has_token(
        f.request.get("Connection"), "upgrade"
    )
    proxy = ctx.recognition.proxy
    if f.request.get("Sec-WebSocket-Version") != "13":
        return None  # version-unsupported explains the refusal
    if not request_ok:
        where = "The client's request lacks"
    elif f.status == 101:
        if _has_token(f.response.get("Upgrade"), "websocket") and _has_token(
            f.response.get("Connection"), "upgrade"
        ):
            return None
        where = "The 101 answer lacks"
    elif (
        f.body_has(*_UPGRADE_REFUSALS)
        or (f.status == 426 and not f.body_has(*_VERSION_WORDS))
        or (f.status == 400 and f.body.startswith('{"code":3'))  # Engine.IO "Bad request"
        or (f.status == 400 and proxy is not None and ctx.recognition.server is not None)
        or ctx.recognition.refusal("upgrade-headers-missing", f) is not None  # a proxy's shape
    ) and ctx.engineio is None:
        where = (
            f"The request left the browser with them, but {proxy.name if proxy else 'something'} "
            "in front of the server dropped"
        )
    else:
        return None
    return ctx.finding(
        "upgrade-headers-missing",
        "error",
        "Upgrade/Connection headers did not reach the WebSocket server",
        f"{where} `Upgrade: websocket` and `Connection: Upgrade`, so the server treated the "
        "request as plain HTTP. Reverse proxies (nginx above all) do not forward these hop-by-hop "
        "headers unless configured to. " + chrome_unexpected(f.status),
        {
            "Upgrade (request)": f.request.get("Upgrade") or "(missing)",
            "Connection (request)": f.request.get("Connection") or "(missing)",
            **ctx.answer(),
        },
    )


def subprotocol_not_selected(ctx: Context) -> Finding | None:
    f = ctx.facts
    offered = ", ".join(f.offered)
    if f.status == 101 and f.offered and not f.selected:
        return ctx.finding(
            "subprotocol-not-selected",
            "error",
            "Client offered a subprotocol, the 101 selected none",
            f"The client offered Sec-WebSocket-Protocol: {offered}, and the 101 carries no "
            "Sec-WebSocket-Protocol. Chrome aborts such a connection (`Error during WebSocket "
            "handshake: Sent non-empty 'Sec-WebSocket-Protocol' header but no response was "
            "received`, close 1006); Firefox carries on, so it fails only in Chrome. The server "
            "must select one of the offered subprotocols.",
            {"Sec-WebSocket-Protocol (offered)": offered, "Sec-WebSocket-Protocol (101)": "(none)"},
        )
    if f.status == 400 and f.body_has("invalid subprotocol", "missing subprotocol"):
        return ctx.finding(
            "subprotocol-not-selected",
            "error",
            "The server accepts none of the offered subprotocols"
            if f.offered
            else "The server requires a subprotocol, and the client offered none",
            f"The client offered {offered or 'no subprotocol'}, and the server refused the "
            "handshake because it supports none of them (its body may list the ones it "
            "expects). The client must offer one the server supports — new WebSocket(url, "
            '["name"]) — or the server must accept a connection without one.',
            {"Sec-WebSocket-Protocol (offered)": offered or "(none)", **ctx.answer()},
        )
    return None


def subprotocol_not_offered(ctx: Context) -> Finding | None:
    f = ctx.facts
    if f.status != 101 or not f.selected or f.selected in f.offered:
        return None
    return ctx.finding(
        "subprotocol-not-offered",
        "error",
        f"The server selected {f.selected}, which the client never offered",
        f"The 101 selects Sec-WebSocket-Protocol: {f.selected}, but the client offered "
        f"{', '.join(f.offered) or 'none'}. Browsers fail the connection (close 1006).",
        {
            "Sec-WebSocket-Protocol (offered)": ", ".join(f.offered) or "(none)",
            "Sec-WebSocket-Protocol (101)": f.selected,
        },
    )


def accept_mismatch(ctx: Context) -> Finding | None:
    f = ctx.facts
    key = f.request.get("Sec-WebSocket-Key")
    if f.status != 101 or not key:
        return None
    got = f.response.get("Sec-WebSocket-Accept")
    expected = expected_accept(key)
    if got is not None and got.strip() == expected:
        return None
    return ctx.finding(
        "accept-mismatch",
        "error",
        "Sec-WebSocket-Accept does not match the key",
        "A browser checks that Sec-WebSocket-Accept is base64(SHA-1(key + RFC 6455 GUID)) and "
        "fails the connection otherwise (`Incorrect 'Sec-WebSocket-Accept' header value`).",
        {
            "Sec-WebSocket-Key": key,
            "Sec-WebSocket-Accept": got or "(missing)",
            "expected": expected,
        },
    )


# -- after the upgrade ----------------------------------------------------------------------


def cross_origin_accepted(ctx: Context) -> Finding | None:
    f = ctx.facts
    if f.status != 101 or f.origin is None or not f.cross_site or not f.has_credentials:
        return None
    sent = [name for name in ("Cookie", "Authorization") if f.request.has(name)]
    return ctx.finding(
        "cross-origin-accepted",
        "warning",
        f"Cross-site Origin {f.origin} accepted on a request with credentials",
        f"The server accepted a WebSocket from {f.origin}, another site than {f.host}, and the "
        f"request carried {' and '.join(sent)}. If the server authenticates WebSockets by cookie, "
        "any page the user visits can open this socket as the user: cross-site WebSocket "
        "hijacking. Allow only your own origins.",
        {"Origin": f.origin, "Host": f.host or "", "Credentials": ", ".join(sent)},
        own_origin=True,
    )


# A server that writes an HTTP answer after its 101: "HTTP/1.1 400 …" read as a WebSocket frame is
# a close frame (0x48: opcode 8) whose code is the bytes "TP" and whose reason starts "/1.1 400".
_HTTP_AS_CLOSE_CODE = 0x5450
_HTTP_STATUS_LINE = re.compile(r"/1\.[01] (\d{3})[^\r\n]{0,60}")
REFUSED_QUICKLY = 1.0  # seconds: a close this soon after the 101, before any message, is a refusal
# Close codes that say "refused" (policy, internal error, an application's own 4xxx) or say
# nothing (a close frame without a code): a normal 1000 or a going-away 1001 say otherwise.
_REFUSING = frozenset({None, 1002, 1003, 1005, 1007, 1008, 1009, 1010, 1011, 1013, 1014})


def http_after_upgrade(f: Facts) -> str | None:
    """The HTTP status line a server wrote onto the socket after its 101, if it did."""
    ws = f.handshake.websocket
    violation = _violation(f)
    if violation is not None and violation.side == "server":
        head = bytes.fromhex(violation.bytes_hex).decode("latin-1")
        line = re.match(r"HTTP(/1\.[01] \d{3}[^\r\n]{0,60})", head)
        return "HTTP" + line[1] if line else None
    close = ws.close if ws else None
    if f.status != 101 or close is None or close.by != "server":
        return None
    line = _HTTP_STATUS_LINE.match(close.reason)
    if close.code != _HTTP_AS_CLOSE_CODE or line is None:
        return None
    return "HTTP" + line[0]


def _quick_refusal(f: Facts) -> str | None:
    """How the server refused right after accepting, or None: it closed (a close frame) within
    REFUSED_QUICKLY of the 101, before sending any message, with a code that does not say all
    is well."""
    ws = f.handshake.websocket
    close = ws.close if ws else None
    answered = f.handshake.answered
    if ws is None or close is None or f.status != 101:
        return None
    if close.by != "server" or close.code == 1006:
        return None  # 1006: the connection dropped, no close frame (closed_abnormally says so)
    if close.code not in _REFUSING and not 4000 <= (close.code or 0) <= 4999:
        return None
    if close.time is None or answered is None or close.time - answered > REFUSED_QUICKLY:
        return None
    if any(m.side == "server" and m.opcode in (1, 2) for m in ws.messages):
        return None
    code = "no code" if close.code in (None, 1005) else str(close.code)
    reason = f', reason "{close.reason}"' if close.reason else ""
    return f"a close frame ({code}{reason}) {1000 * (close.time - answered):.0f} ms after the 101"


def _violation(f: Facts) -> Violation | None:
    """The first frame that broke the protocol, the server's first: a browser fails on it."""
    ws = f.handshake.websocket
    if ws is None or not ws.violations:
        return None
    return min(ws.violations, key=lambda v: v.side != "server")


def _violation_cause(v: Violation, written: str | None) -> str:
    if written:
        return (
            f"the server wrote an HTTP answer ({written}) into the open WebSocket: two upgrade "
            "handlers on one server (two WebSocket libraries, or a framework's and your own, both "
            "answering the same upgrade) or a proxy writing an HTTP answer into the tunnel"
        )
    if "RSV1" in v.reason:
        return (
            "compression is negotiated wrongly: frames are compressed (permessage-deflate) though "
            "the 101 did not accept it, often a proxy or a second handler that rewrote the 101's "
            "Sec-WebSocket-Extensions"
        )
    return (
        "something writes bytes into the connection that are not valid frames: two writers on one "
        "socket (concurrent sends interleaving their frames, or two upgrade handlers), or a "
        "WebSocket implementation that breaks RFC 6455 here"
    )


def protocol_violation(ctx: Context) -> Finding | None:
    f = ctx.facts
    v = _violation(f)
    if v is None or ctx.engineio is not None:
        return None  # Engine.IO's 400 after the 101 is explained in its own words
    written = http_after_upgrade(f)
    said = (
        CHROME_FAILED.format(why=v.browser_words)
        if v.browser_words
        else "A server fails the connection (close 1002)."
    )
    return ctx.finding(
        "protocol-violation",
        "error",
        f"The {v.side} broke the WebSocket protocol at byte {v.offset} after the 101",
        f"At byte {v.offset} of what the {v.side} sent after the 101 came {v.reason}. {said} "
        f"The likely cause: {_violation_cause(v, written)}.",
        {
            "Side": v.side,
            "Offset": f"byte {v.offset} after the 101",
            "Bytes": v.bytes_hex or "(none)",
            "What": v.reason,
            "Browser says": v.browser_words or "(not a browser's to read)",
        },
    )


def refused_after_upgrade(ctx: Context) -> Finding | None:
    f = ctx.facts
    if ctx.engineio is not None or _violation(f) is not None:
        return None  # Engine.IO said why (engineio_refused), or protocol_violation says what broke
    written = http_after_upgrade(f)
    how = f"an HTTP answer written onto the socket, {written}" if written else _quick_refusal(f)
    if how is None:
        return None
    ws = f.handshake.websocket
    close = ws.close if ws else None
    return ctx.finding(
        "refused-after-upgrade",
        "error",
        "Accepted, then refused: the server closed right after the 101",
        f"The server answered 101 Switching Protocols, then refused at once: {how}, before any "
        "message. Its code accepted the WebSocket first and checked afterwards (an origin or "
        "authentication check after accept(), Express middleware behind express-ws, a "
        "consumer's close() in Django Channels). The page sees an open socket and then a close "
        "event, never an HTTP status; browsers report no error.",
        {
            "Status": "101 Switching Protocols",
            "Close code": written or str(close.code if close and close.code else "(none)"),
            "Reason": (close.reason if close and not written else "") or "(none)",
            "Closed by": "server",
            "After": how,
        },
    )


def idle_timeout(ctx: Context) -> Finding | None:
    drop = lifetime.idle_drop(ctx.facts.handshake)
    if drop is None:
        return None
    proxy = ctx.recognition.proxy
    silence = _seconds(drop.silence)
    if proxy is not None:
        who = f"{proxy.name} answered the 101 and closes upgraded connections idle past its limit"
        if drop.default is not None:
            who += f"; the silence matches a default: {drop.default}"
    elif drop.default is not None:
        who = f"The silence matches a known default idle limit: {drop.default}"
    else:
        who = (
            "A proxy or load balancer in between (or the server itself) with an idle limit of "
            f"about {silence}"
        )
    last = _last_frame(drop.last)
    heartbeat = (
        "No ping or pong was seen" if not drop.heartbeats else "No ping or pong came in that gap"
    )
    evidence = {
        "Close code": "1006 (the TCP connection ended, no close frame)",
        "Silent for": f"{silence}, since {last}",
        "Pings/pongs seen": str(drop.heartbeats) if drop.heartbeats else "none",
    }
    if drop.by is not None:
        evidence["Dropped by"] = f"the {drop.by} side"
    if drop.default is not None:
        evidence["Matches the default of"] = drop.default
    if proxy is not None:
        evidence["Proxy (from the 101)"] = proxy.name
    return ctx.finding(
        "idle-timeout",
        "warning",
        f"Dropped after {silence} of silence without a close frame (1006): an idle timeout",
        f"The WebSocket worked, then nothing went either way for {silence} ({last}), and the "
        "connection ended without a close frame. That is how a proxy ends an idle tunnel. "
        f"{who}. {heartbeat}: a heartbeat resets the limit. The page sees close 1006 with no "
        "reason. A server that crashed, or a client that vanished, after a silence looks the "
        "same: their logs tell.",
        evidence,
    )


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def _last_frame(message: Message | None) -> str:
    if message is None:
        return "the 101 (no frame at all)"
    kind = _FRAME_KINDS.get(message.opcode, f"opcode {message.opcode}")
    return f"the last frame: {kind} from the {message.side}"


_FRAME_KINDS = {0x1: "a text message", 0x2: "a binary message", 0x9: "a ping", 0xA: "a pong"}


def closed_while_connecting(ctx: Context) -> Finding | None:
    left = lifetime.left_while_connecting(ctx.facts.handshake)
    if left is None:
        return None
    unsure = (
        ""
        if left.sure
        else " The relay did not see which side ended it: if no client closed it, the server "
        "dropped it at once, and its log says why."
    )
    return ctx.finding(
        "closed-while-connecting",
        "warning",
        "The client closed the WebSocket while it was connecting: not a server fault",
        f"The client gave up its own handshake: {left.how}. A browser does this when the page "
        "calls close() on a socket still CONNECTING — React's StrictMode mounts every component "
        "twice in development, so an effect that opens a WebSocket closes the first one at once "
        "— or when the page is left. Chrome logs `WebSocket connection to '…' failed: "
        "WebSocket is closed before the connection is established.`; the page gets close 1006. "
        f"The server did nothing wrong; a second attempt usually follows.{unsure}",
        {
            "Client": left.how,
            "Status": f"{ctx.facts.status}" if ctx.facts.status else "no answer yet",
        },
    )


def closed_abnormally(ctx: Context) -> Finding | None:
    ws = ctx.facts.handshake.websocket
    if ws is None or ws.close is None or not closecodes.is_abnormal(ws.close.code):
        return None
    if _quick_refusal(ctx.facts) or http_after_upgrade(ctx.facts) or _violation(ctx.facts):
        return None  # refused_after_upgrade, protocol_violation or Engine.IO's rule explains it
    if lifetime.idle_drop(ctx.facts.handshake) or lifetime.left_while_connecting(
        ctx.facts.handshake
    ):
        return None  # idle_timeout or closed_while_connecting explains it
    close = ws.close
    by = f" by the {close.by}" if close.by else ""
    reason = f" ({close.reason})" if close.reason else ""
    code = close.code
    return ctx.finding(
        "closed-abnormally",
        "warning",
        f"Closed with {code}{by}: {closecodes.meaning(code).split(':')[0]}",
        f"After the upgrade the connection closed with {code}{reason}{by}: "
        f"{closecodes.meaning(code)}.",
        {"Close code": str(code), "Reason": close.reason or "(none)", "Closed by": close.by or "?"},
    )


def handshake_rejected(ctx: Context) -> Finding | None:
    """The catch-all: a refusal that no rule above explains is still an error, never ok."""
    f = ctx.facts
    if f.status is None or f.status == 101:
        return None
    return ctx.finding(
        "handshake-rejected",
        "error",
        f"{f.status}: the server refused the upgrade",
        f"The server answered {f.status} instead of 101 Switching Protocols. "
        + chrome_unexpected(f.status),
        ctx.answer(),
    )


# The order is the order findings are listed in; handshake_rejected only runs when no error rule
# explained a refusal.
RULES: tuple[Rule, ...] = (
    client_distrusts_proxy,
    upstream_cert_invalid,
    upstream_failed,
    redirected,
    not_upgraded,
    engineio_refused,
    version_unsupported,
    connection_matched_exactly,
    upgrade_headers_missing,
    wildcard_origin_with_credentials,
    origin_rejected,
    refused_without_origin,
    unauthorized,
    not_found,
    subprotocol_not_selected,
    subprotocol_not_offered,
    accept_mismatch,
    protocol_violation,
    refused_after_upgrade,
    cross_origin_accepted,
    idle_timeout,
    closed_while_connecting,
    closed_abnormally,
)
FALLBACK: Rule = handshake_rejected
