"""Node ws: ``verifyClient`` decides the Origin, ``handleProtocols`` the subprotocol."""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import body_matches, both, cross_origin, status_is
from wsinspect.diagnose.stacks._record import Refusal, Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page, site_powered_by


def abort_handshake(f: Facts) -> bool:
    """ws's abortHandshake: Connection, Content-Type (so spelled) text/html, Content-Length only."""
    names = {k for k, _ in f.response}
    return (
        f.status not in (None, 101)
        and names == {"Connection", "Content-Type", "Content-Length"}
        and f.response.get("Content-Type") == "text/html"
    )


ALLOW_ORIGIN = Snippet(
    "javascript",
    """\
const allowedOrigins = new Set(["{{origin}}"]); // full origins
const wss = new WebSocketServer({
  server,
  verifyClient: (info) => allowedOrigins.has(info.origin),
});
// A verifyClient that returns true for everyone admits every site.""",
    knob='new WebSocketServer({ verifyClient: (info) => info.origin === "{{origin}}" })',
)

STACK = StackRecord(
    name="Node ws",
    kind="server",
    docs="https://github.com/websockets/ws/blob/master/doc/ws.md#new-websocketserveroptions-callback",
    language="javascript",
    signals=(
        Signal(
            "refusal with only Connection, Content-Type: text/html and Content-Length "
            "(no Date, no Server: ws's abortHandshake)",
            0.8,
            abort_handshake,
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
    refusals=(
        Refusal(
            "origin-rejected",
            "a Node ws verifyClient refuses with 401, and the Origin is cross-origin",
            both(status_is(401), cross_origin),
        ),
    ),
    site_signals=(
        Signal(SITE + "X-Powered-By: Express", 0.2, site_powered_by(r"^Express$")),
        Signal(
            SITE + "Express's 404 (Cannot GET …)", 0.2, site_error_page(r"<pre>Cannot [A-Z]+ /")
        ),
    ),
    fixes={
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "javascript",
            """\
const wss = new WebSocketServer({
  server,
  handleProtocols: (protocols) => (protocols.has("{{protocol}}") ? "{{protocol}}" : false),
});""",
            knob='new WebSocketServer({ handleProtocols: (p) => p.has("{{protocol}}") '
            '? "{{protocol}}" : false })',
        ),
    },
)
