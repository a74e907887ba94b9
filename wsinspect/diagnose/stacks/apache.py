"""Apache httpd's mod_proxy: ``upgrade=websocket`` (2.4.47+) or mod_proxy_wstunnel.

Apache keeps the backend's Server header on what it relays and adds no Via: a backend's refusal
through it names the backend, not Apache. Without ``upgrade=websocket`` it forwards the request
with ``Connection: Keep-Alive`` and no ``Upgrade``, so the backend complains about Keep-Alive.
Its own pages are the stock httpd ones (a 503 "Service Unavailable" when the backend is down;
"Proxy Error" is the 502 for an invalid backend answer).
"""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import body_matches, header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_server

_KEEP_ALIVE = body_matches(r"Connection[^\n]{0,40}Keep-Alive")  # as Apache spells it


def keep_alive_complaint(f: Facts) -> bool:
    """The client sent ``Connection: Upgrade`` and the backend complains it got ``Keep-Alive``:
    something in between rewrote it, as mod_proxy_http does without ``upgrade=websocket``."""
    sent_upgrade = any(t.lower() == "upgrade" for t in f.request.tokens("Connection"))
    return f.status not in (None, 101) and sent_upgrade and _KEEP_ALIVE(f)


PROXY_PASS = 'ProxyPass "{{path}}" "http://127.0.0.1:8080{{path}}" upgrade=websocket'

# An idle upgraded connection cut short (research: tests/fixtures/stacks/*/idle_timeout.txt).
IDLE_TIMEOUT = Snippet(
    "apache",
    """\
# an idle upgraded connection is closed after the larger of Timeout and ProxyTimeout
# (both 60 s by default): raising ProxyTimeout lengthens it, lowering it alone does not
ProxyTimeout 3600""",
    knob="ProxyTimeout 3600  # idle tunnels last the larger of it and Timeout (60 s)",
)


STACK = StackRecord(
    name="Apache",
    kind="proxy",
    docs="https://httpd.apache.org/docs/2.4/mod/mod_proxy_http.html",
    language="apache",
    signals=(
        Signal("Server: Apache", 0.9, header_matches("Server", r"^Apache")),
        Signal("Apache proxy error page", 0.7, body_matches(r"<title>50\d Proxy Error</title>")),
        Signal(
            "Apache's stock 503 page (temporarily unable to service your request)",
            0.9,
            body_matches(r"temporarily unable to service your\s+request due to maintenance"),
        ),
        Signal(
            "the backend got Connection: Keep-Alive (Apache's mod_proxy without "
            "upgrade=websocket rewrites it so)",
            0.45,
            keep_alive_complaint,
        ),
    ),
    site_signals=(Signal(SITE + "Server: Apache", 0.4, site_server(r"^Apache")),),
    fixes={
        "upgrade-headers-missing": Snippet(
            "apache",
            f"""\
# httpd >= 2.4.47 (mod_proxy_http):
{PROXY_PASS}
# Worker sharing: upgrade=websocket is ignored when an earlier ProxyPass uses the same backend
# URL (one worker per URL; inside a <VirtualHost> nothing is logged, at server level AH01146).
# Give each route its own URL (e.g. a trailing slash on the other one), or use ws:// here:
# ProxyPass "{{{{path}}}}" "ws://127.0.0.1:8080{{{{path}}}}"   # mod_proxy_wstunnel""",
            knob=PROXY_PASS + "  # no earlier ProxyPass to the same URL",
        ),
        "upstream-failed": Snippet(
            "apache",
            f"""\
# Apache answers 503 when it cannot connect to the backend (error.log: AH00957, AH01114)
{PROXY_PASS}  # the running WebSocket server""",
            knob=PROXY_PASS + "  # the running WebSocket server",
        ),
        "idle-timeout": IDLE_TIMEOUT,
    },
)
