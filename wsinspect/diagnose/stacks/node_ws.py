"""Node ws: ``verifyClient`` decides the Origin, ``handleProtocols`` the subprotocol.

Its refusals (abortHandshake) are ws's, whatever runs it: express-ws's ``wsOptions``,
@fastify/websocket's ``options`` and Vite's HMR server give the same bytes, so the record names the
shared layer and its fix says where each of them takes ws's options."""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import (
    body_matches,
    both,
    cross_origin,
    header_matches,
    refused,
    status_is,
)
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
// express-ws: expressWs(app, server, { wsOptions: { verifyClient } });
// @fastify/websocket: fastify.register(websocket, { options: { verifyClient } }).
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
            "Sec-WebSocket-Version: 13, 8 on a refusal (ws alone also accepts version 8)",
            0.9,
            both(refused, header_matches("Sec-WebSocket-Version", r"^13, 8$")),
        ),
        Signal(
            "one of ws's handshake refusal messages",
            0.6,
            body_matches(
                r"^(Invalid HTTP method|Missing or invalid Sec-WebSocket-Version header"
                r"|Invalid Sec-WebSocket-Key header|Missing or invalid Upgrade header"
                r"|Invalid Upgrade header|Invalid Sec-WebSocket-Protocol header"
                r"|Invalid or unacceptable Sec-WebSocket-Extensions header)$"
            ),
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
  // a Set in ws 8, an Array in ws 7 (express-ws 5): spreading serves both
  handleProtocols: (protocols) =>
    [...protocols].includes("{{protocol}}") ? "{{protocol}}" : false,
});""",
            knob='new WebSocketServer({ handleProtocols: (p) => [...p].includes("{{protocol}}") '
            '? "{{protocol}}" : false })',
        ),
    },
)
