"""Socket.IO (Engine.IO underneath): ``allowRequest`` decides the upgrade, ``cors`` only polling."""

from wsinspect.diagnose.stacks._match import (
    body_matches,
    both,
    header_spelled,
    path_has,
    status_is,
    with_origin,
)
from wsinspect.diagnose.stacks._record import Refusal, Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_cookie, site_powered_by

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
    refusals=(
        Refusal(
            "origin-rejected",
            "Socket.IO's allowRequest refused the upgrade (400 with its message)",
            both(status_is(400), with_origin, lambda f: not f.body.startswith("{")),
        ),
    ),
    site_signals=(
        Signal(SITE + "X-Powered-By: Express", 0.2, site_powered_by(r"^Express$")),
        Signal(SITE + "an io cookie (Socket.IO 2)", 0.45, site_cookie(r"io")),
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
    },
)
