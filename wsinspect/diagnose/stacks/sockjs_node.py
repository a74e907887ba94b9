"""sockjs-node: no Origin check and no subprotocols of its own (its /info says
``"origins":["*:*"]``); an Origin check is the app's, in the server's ``upgrade`` event."""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import body_matches
from wsinspect.diagnose.stacks._record import NoFix, Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page


def opened_with_o(f: Facts) -> bool:
    """SockJS's open frame: the server's first message after the 101 is the text ``o``."""
    ws = f.handshake.websocket
    first = next((m for m in ws.messages if m.side == "server"), None) if ws else None
    return first is not None and first.opcode == 1 and first.preview == "o"


ALLOW_ORIGIN = Snippet(
    "javascript",
    """\
// sockjs-node has no Origin option: check it in the server's upgrade event, before sockjs.
const allowedOrigins = new Set(["{{origin}}"]); // full origins
sockjsServer.installHandlers(server, { prefix: "/ws" }); // your prefix
const sockjsUpgrade = server.listeners("upgrade");
server.removeAllListeners("upgrade");
server.on("upgrade", (req, socket, head) => {
  if (!allowedOrigins.has(req.headers.origin)) {
    return socket.end("HTTP/1.1 403 Forbidden\\r\\nContent-Length: 0\\r\\n\\r\\n");
  }
  for (const listener of sockjsUpgrade) listener.call(server, req, socket, head);
});
// SockJS's HTTP transports (xhr, eventsource) need the same check in the request event.""",
    knob='server.on("upgrade", (req, socket) => { if (req.headers.origin !== "{{origin}}") '
    "socket.destroy(); }) before sockjs (it has no option)",
)

STACK = StackRecord(
    name="sockjs-node",
    kind="server",
    docs="https://github.com/sockjs/sockjs-node#readme",
    language="javascript",
    signals=(
        Signal(
            'body "404 Error: Page not found" (sockjs)',
            0.9,
            body_matches(r"^404 Error: Page not found\n?$"),
        ),
        Signal(
            'body "Only supported WebSocket protocol is RFC 6455." (sockjs)',
            0.95,
            body_matches(r"^Only supported WebSocket protocol is RFC 6455\.$"),
        ),
        Signal(
            'body "Not a valid websocket request" (sockjs)',
            0.85,
            body_matches(r"^Not a valid websocket request$"),
        ),
        Signal('the first message after the 101 is "o" (SockJS\'s open frame)', 0.7, opened_with_o),
    ),
    site_signals=(
        Signal(
            SITE + "one of sockjs's own error pages (Not a valid websocket request, "
            "404 Error: Page not found, …)",
            0.7,
            site_error_page(
                r"^(Not a valid websocket request|404 Error: Page not found\n?"
                r"|Only supported WebSocket protocol is RFC 6455\.)$"
            ),
        ),
    ),
    fixes={
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": NoFix(
            "sockjs-node selects no subprotocol and has no option for one (the SockJS protocol "
            "has none): let the client offer none, new WebSocket(url) or new SockJS(url)."
        ),
        "not-found": Snippet(
            "javascript",
            """\
// sockjs answers under its prefix only: raw WebSocket at <prefix>/websocket,
// SockJS sessions through sockjs-client given the prefix URL.
sockjsServer.installHandlers(server, { prefix: "/ws" });
const socket = new WebSocket("ws://{{host}}/ws/websocket"); // or new SockJS("http://{{host}}/ws")""",
            knob='installHandlers(server, { prefix: "/ws" }); the client connects to /ws/websocket',
        ),
        "upgrade-headers-missing": NoFix(
            'sockjs answered "Not a valid websocket request": the request reached it without '
            "Upgrade and Connection headers. sockjs has nothing to set for that; whatever is in "
            "front of the Node server must forward both."
        ),
    },
)
