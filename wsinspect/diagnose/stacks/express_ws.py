"""express-ws: ws upgrades every request first and Express runs afterwards, so a middleware's
refusal (or a path without an ``app.ws`` route) becomes a 101 and then a close without a status.
Refuse before the upgrade with ws's own ``verifyClient``, passed in ``wsOptions``."""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page, site_powered_by

AT_ONCE = 1.0  # seconds from the 101 to the close: express-ws closes within milliseconds
WS_101 = ("Upgrade", "Connection", "Sec-WebSocket-Accept")  # ws writes these, in this order


def ws_101(f: Facts) -> bool:
    """ws's hand-written 101 (gorilla and faye-websocket write the same bytes): nothing else."""
    names = [k for k, _ in f.response]
    return f.status == 101 and names[:3] == list(WS_101) and len(names) <= 4


def closed_empty_at_once(f: Facts) -> bool:
    """The server closed before any message with an empty close frame (no status: the page sees
    1005), right after its 101: express-ws's ``socket.close()`` when Express did not route it."""
    ws = f.handshake.websocket
    close = ws.close if ws else None
    answered = f.handshake.answered
    if ws is None or close is None or answered is None or close.time is None:
        return False
    return (
        close.by == "server"
        and close.code is None
        and ws.counts.server_messages == 0
        and close.time - answered <= AT_ONCE
    )


ALLOW_ORIGIN = Snippet(
    "javascript",
    """\
// express-ws upgrades first and runs Express after: a middleware's 403 never reaches the
// browser (it sees a 101, then close 1005). ws's verifyClient refuses before the upgrade.
const allowedOrigins = new Set(["{{origin}}"]); // full origins
const expressWs = require("express-ws")(app, server, {
  wsOptions: { verifyClient: (info) => allowedOrigins.has(info.origin) },
});
// A verifyClient that returns true for everyone admits every site.""",
    knob="expressWs(app, server, { wsOptions: { verifyClient: (info) => "
    'info.origin === "{{origin}}" } })',
)

STACK = StackRecord(
    name="express-ws",
    kind="server",
    docs="https://github.com/HenningM/express-ws#readme",
    language="javascript",
    signals=(
        Signal(
            "ws's 101: Upgrade, Connection, Sec-WebSocket-Accept only "
            "(also gorilla's and sockjs's)",
            0.3,
            ws_101,
        ),
        Signal(
            "closed by the server at once with an empty close frame (1005), before any message: "
            "express-ws refusing after the upgrade (an Express middleware, or no app.ws route; "
            "a ws app closing in its connection handler looks the same)",
            0.65,
            closed_empty_at_once,
        ),
    ),
    site_signals=(
        Signal(SITE + "X-Powered-By: Express", 0.25, site_powered_by(r"^Express$")),
        Signal(
            SITE + "Express's 404 (Cannot GET …)", 0.2, site_error_page(r"<pre>Cannot [A-Z]+ /")
        ),
    ),
    fixes={
        "refused-after-upgrade": Snippet(
            "javascript",
            """\
// express-ws lets ws answer 101 first, then runs the request through Express: a middleware
// that refuses (res.status(403)), or a path without an app.ws route, can only close the
// socket (close 1005, no reason). Refuse before the upgrade, in ws's verifyClient:
const allowedOrigins = new Set(["{{origin}}"]); // full origins
require("express-ws")(app, server, {
  wsOptions: {
    verifyClient: (info, done) =>
      allowedOrigins.has(info.origin) ? done(true) : done(false, 403, "Forbidden"),
  },
});
app.ws("{{path}}", (ws, req) => { /* … */ }); // and a route for every path clients use""",
            knob="expressWs(app, server, { wsOptions: { verifyClient: (info) => "
            'info.origin === "{{origin}}" } }), and an app.ws("{{path}}") route',
        ),
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "javascript",
            """\
// express-ws 5 runs ws 7: handleProtocols gets an Array there (a Set in ws 8); spread it.
require("express-ws")(app, server, {
  wsOptions: {
    handleProtocols: (protocols) =>
      [...protocols].includes("{{protocol}}") ? "{{protocol}}" : false,
  },
});""",
            knob="expressWs(app, server, { wsOptions: { handleProtocols: (p) => "
            '[...p].includes("{{protocol}}") ? "{{protocol}}" : false } })',
        ),
    },
)
