"""Cloudflare's proxy: WebSockets are a zone setting."""

from wsinspect.diagnose.stacks._match import has_header, header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_cookie, site_header, site_server

# An idle upgraded connection cut short (research: tests/fixtures/stacks/*/idle_timeout.txt).
IDLE_TIMEOUT = Snippet(
    "text",
    "Cloudflare closes a WebSocket that stays idle for about 100 s (and drops sockets "
    "when it restarts its own servers): send a ping or a heartbeat message every 30 s, "
    "and reconnect when the socket closes.",
    knob="a heartbeat every 30 s; reconnect on close (idle limit ~100 s)",
)


STACK = StackRecord(
    name="Cloudflare",
    kind="proxy",
    docs="https://developers.cloudflare.com/network/websockets/",
    language="text",
    signals=(
        Signal("Server: cloudflare", 0.9, header_matches("Server", r"^cloudflare")),
        Signal("CF-RAY header", 0.9, has_header("CF-RAY")),
    ),
    site_signals=(
        Signal(SITE + "Server: cloudflare", 0.6, site_server(r"^cloudflare")),
        Signal(SITE + "CF-RAY header", 0.6, site_header("CF-RAY")),
        Signal(SITE + "a __cf_bm cookie", 0.45, site_cookie(r"__cf_bm|__cflb|__cfruid")),
    ),
    fixes={
        "upgrade-headers-missing": Snippet(
            "text",
            "Dashboard → Network → WebSockets: On.",
            knob="Dashboard → Network → WebSockets: On",
        ),
        "upstream-failed": Snippet(
            "text",
            "Cloudflare got no answer from your origin: check that the origin server runs and "
            "accepts connections from Cloudflare's addresses (its error page names the cause).",
            knob="the origin server must run and accept Cloudflare's addresses",
        ),
        "idle-timeout": IDLE_TIMEOUT,
    },
)
