"""Socket.IO (Node, Engine.IO underneath): ``allowRequest`` decides the upgrade, ``cors`` only
polling.

Node's engine.io refuses every upgrade with the same hand-written 400 (``Content-type`` with a
lowercase t, no Date) whose body is its reason; the reasons that are not its own words come from
``allowRequest``, which is where an Origin check lives.
"""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import (
    body_matches,
    both,
    has_header,
    header_spelled,
    path_has,
    status_is,
    with_origin,
)
from wsinspect.diagnose.stacks._record import Refusal, Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_cookie, site_error_page, site_powered_by

# Engine.IO's own reasons for refusing an upgrade (server.js); any other body is allowRequest's.
OWN_REASONS = frozenset(
    {
        "Transport unknown",
        "Session ID unknown",
        "Bad handshake method",
        "Bad request",
        "Unsupported protocol version",
    }
)
ABORT_UPGRADE = ["Connection", "Content-type", "Content-Length"]  # as spelled, in this order
HTTP_AS_CLOSE = 0x5450  # "HTTP/1.1 …" read as a frame: opcode 8, code "TP", reason "/1.1 …"


def abort_upgrade(f: Facts) -> bool:
    """engine.io's abortUpgrade: a 400 with exactly these three headers, no Date."""
    return f.status == 400 and [k for k, _ in f.response] == ABORT_UPGRADE


def allow_request_refused(f: Facts) -> bool:
    """An abortUpgrade whose message is not one of Engine.IO's own: allowRequest's ("Forbidden"
    when its callback gives no message)."""
    return abort_upgrade(f) and f.body.strip() not in OWN_REASONS


def abort_upgrade_after_101(f: Facts) -> bool:
    """An old client (EIO=3) gets the 101, then abortUpgrade's bytes on the socket, which read as
    a close frame whose reason holds the rest of the 400."""
    ws = f.handshake.websocket
    close = ws.close if ws else None
    written = next((v for v in ws.violations if v.side == "server"), None) if ws else None
    if f.status == 101 and written is not None:  # the capture read it as a bad frame
        text = bytes.fromhex(written.bytes_hex).decode("latin-1")
        return text.startswith("HTTP/1.1 400 Bad Request") and (
            "\r\nContent-type: text/html\r\n" in text
        )
    return (
        f.status == 101
        and close is not None
        and close.code == HTTP_AS_CLOSE
        and close.reason.startswith("/1.1 400 Bad Request")
        and "\r\nContent-type: text/html\r\n" in close.reason
    )


def engineio_open_packet(f: Facts) -> bool:
    ws = f.handshake.websocket
    first = next((m for m in ws.messages if m.side == "server"), None) if ws else None
    return first is not None and first.opcode == 1 and first.preview.startswith('0{"sid":')


ALLOW_ORIGIN = Snippet(
    "javascript",
    """\
// The `cors` option governs HTTP long-polling only: it never admits or blocks the WebSocket
// transport. allowRequest is what decides the upgrade.
const io = new Server(httpServer, {
  allowRequest: (req, callback) => callback(null, req.headers.origin === "{{origin}}"),
  cors: { origin: ["{{origin}}"], credentials: true }, // for polling
});""",
    knob="new Server(httpServer, { allowRequest: (req, cb) => cb(null, req.headers.origin === "
    '"{{origin}}") })',
)

STACK = StackRecord(
    name="Socket.IO",
    kind="server",
    docs="https://socket.io/docs/v4/server-options/#allowrequest",
    language="javascript",
    signals=(
        Signal("request path /socket.io/ with EIO=", 0.6, path_has(r"/socket\.io/.*EIO=")),
        Signal(
            "400 with only Connection, Content-type (so spelled), Content-Length: "
            "Node engine.io's abortUpgrade",
            0.9,
            abort_upgrade,
        ),
        Signal(
            "a 400 written on the socket after the 101, Content-type so spelled "
            "(engine.io refusing an old client after ws upgraded it)",
            0.9,
            abort_upgrade_after_101,
        ),
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
        Signal(
            "Access-Control-Allow-Origin on the 101 (Socket.IO's cors option)",
            0.4,
            both(status_is(101), has_header("Access-Control-Allow-Origin")),
        ),
        Signal(
            'first message 0{"sid":…} (Engine.IO\'s open packet, Node or Python)',
            0.3,
            engineio_open_packet,
        ),
    ),
    refusals=(
        Refusal(
            "origin-rejected",
            "Socket.IO's allowRequest refused the upgrade (engine.io's 400 with its message)",
            both(with_origin, allow_request_refused),
        ),
    ),
    site_signals=(
        Signal(SITE + "X-Powered-By: Express", 0.2, site_powered_by(r"^Express$")),
        Signal(SITE + "an io cookie (Socket.IO 2)", 0.45, site_cookie(r"io")),
        Signal(
            SITE + 'engine.io\'s polling refusal {"code":…,"message":…}',
            0.5,
            site_error_page(r'^\{"code":\d+,"message":"[^"]*"\}$'),
        ),
    ),
    fixes={
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "not-found": Snippet(
            "javascript",
            '// server and client must agree on the path (default "/socket.io")\n'
            'const io = new Server(httpServer, { path: "/socket.io" });\n'
            'const socket = io("{{origin}}", { path: "/socket.io" });',
            knob='the same path on both sides: new Server(httpServer, { path: "/socket.io" })',
        ),
        "engineio-session-unknown": Snippet(
            "javascript",
            """\
// Several Node processes: each session must stay on the one that opened it (sticky sessions).
// In a cluster, @socket.io/sticky routes by sid and @socket.io/cluster-adapter shares events:
const { setupMaster } = require("@socket.io/sticky");
setupMaster(httpServer, { loadBalancingMethod: "least-connection" }); // in the primary
// Behind a load balancer, enable its sticky sessions (nginx: ip_hash; cookie affinity),
// or skip polling so that no session spans two requests:
const socket = io("{{origin}}", { transports: ["websocket"] });""",
            knob="sticky sessions (@socket.io/sticky, or the load balancer's), or the client's "
            'transports: ["websocket"]',
        ),
        "engineio-version-mismatch": Snippet(
            "javascript",
            """\
// A Socket.IO 2 client (EIO=3) against a Socket.IO 3/4 server: accept it while you upgrade
// the client to socket.io-client 4.
const io = new Server(httpServer, { allowEIO3: true });""",
            knob="new Server(httpServer, { allowEIO3: true }), or socket.io-client 4",
        ),
        "engineio-transport-unknown": Snippet(
            "javascript",
            """\
// The server's transports must include the one the client asks for.
const io = new Server(httpServer, { transports: ["polling", "websocket"] });
const socket = io("{{origin}}", { transports: ["polling", "websocket"] });""",
            knob='new Server(httpServer, { transports: ["polling", "websocket"] })',
        ),
    },
)
