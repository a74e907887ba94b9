"""One rule per finding code: does this handshake show it, and what proves it.

Each rule reads the facts and the recognised stack and returns a Finding or None. Codes, titles and
pages are stable (docs/rules/<code>.md; docs/architecture.md says how to add one); explanations
quote the values seen on the wire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wsinspect.diagnose import closecodes
from wsinspect.diagnose.facts import Facts, expected_accept
from wsinspect.diagnose.fixes import fixes_for
from wsinspect.diagnose.shared import shared
from wsinspect.diagnose.stacks import Recognition
from wsinspect.model import Finding, Severity

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
    "cross-origin-accepted",
    "closed-abnormally",
    "handshake-rejected",  # the catch-all, so that no refusal reads as ok
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

    @classmethod
    def of(cls, facts: Facts, recognition: Recognition) -> Context:
        return cls(facts, recognition, _origin_refusal(facts, recognition))

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


# -- refusals ------------------------------------------------------------------------------


def _origin_refusal(f: Facts, recognition: Recognition) -> str | None:
    """Why the answer is an Origin refusal, or None: the body says so, or the shape does (a
    recognised stack's own shape: its record's refusals)."""
    if f.body_has("is not authorized for Host", "is not a valid URL with a host"):
        return "the server's own message says the Origin is not authorized"
    if f.body_has("invalid Origin header", "missing Origin header"):
        return "the server's own message says the Origin header is not allowed"
    if f.origin is None:
        return None
    in_its_own_words = recognition.refusal("origin-rejected", f)
    if in_its_own_words is not None:
        return in_its_own_words
    if f.status == 403 and f.cross_origin:
        return "403 to a request whose Origin is not the host it was sent to"
    return None


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


def unauthorized(ctx: Context) -> Finding | None:
    f = ctx.facts
    if f.status not in (401, 403) or ctx.origin_refusal:
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


def upgrade_headers_missing(ctx: Context) -> Finding | None:
    f = ctx.facts
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
    ):
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
    if f.status == 400 and f.body_has("invalid subprotocol"):
        return ctx.finding(
            "subprotocol-not-selected",
            "error",
            "The server accepts none of the offered subprotocols",
            f"The client offered {offered or 'no subprotocol'}, and the server refused the "
            "handshake because none is one it supports (its body lists the ones it expects).",
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


def closed_abnormally(ctx: Context) -> Finding | None:
    ws = ctx.facts.handshake.websocket
    if ws is None or ws.close is None or not closecodes.is_abnormal(ws.close.code):
        return None
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
    upstream_failed,
    redirected,
    not_upgraded,
    version_unsupported,
    upgrade_headers_missing,
    origin_rejected,
    unauthorized,
    not_found,
    subprotocol_not_selected,
    subprotocol_not_offered,
    accept_mismatch,
    cross_origin_accepted,
    closed_abnormally,
)
FALLBACK: Rule = handshake_rejected
