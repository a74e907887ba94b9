"""uWebSockets.js: no Origin or subprotocol option; the ``upgrade`` handler of ``app.ws`` decides
both, before ``res.upgrade``. Every answer carries its ``uWebSockets: 20`` header."""

from wsinspect.diagnose.stacks._match import header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_header

ALLOW_ORIGIN = Snippet(
    "javascript",
    """\
const allowedOrigins = new Set(["{{origin}}"]); // full origins
app.ws("{{path}}", {
  upgrade: (res, req, context) => {
    if (!allowedOrigins.has(req.getHeader("origin"))) {
      return res.writeStatus("403 Forbidden").end();
    }
    res.upgrade({}, req.getHeader("sec-websocket-key"), req.getHeader("sec-websocket-protocol"),
                req.getHeader("sec-websocket-extensions"), context);
  },
  message: (ws, message, isBinary) => { /* … */ },
});
// Without an upgrade handler uWS admits every origin.""",
    knob='app.ws("{{path}}", { upgrade: (res, req, ctx) => req.getHeader("origin") === '
    '"{{origin}}" ? res.upgrade(…) : res.writeStatus("403 Forbidden").end() })',
)

STACK = StackRecord(
    name="uWebSockets.js",
    kind="server",
    docs="https://unetworking.github.io/uWebSockets.js/generated/interfaces/WebSocketBehavior.html#upgrade",
    language="javascript",
    signals=(Signal("uWebSockets: 20 header", 0.97, header_matches("uWebSockets", r"^\d+$")),),
    # uWS writes the header on every answer it makes: when the socket's answer lacks it, another
    # server answered the socket's path, so the pages' header alone weighs less
    site_signals=(Signal(SITE + "a uWebSockets header", 0.5, site_header("uWebSockets")),),
    fixes={
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "javascript",
            """\
// res.upgrade's third argument is the selected subprotocol: one the client offered, or "".
// Passing the client's whole header selects its first offer, whatever it is.
app.ws("{{path}}", {
  upgrade: (res, req, context) => {
    const offered = req.getHeader("sec-websocket-protocol").split(",").map((p) => p.trim());
    res.upgrade({}, req.getHeader("sec-websocket-key"),
                offered.includes("{{protocol}}") ? "{{protocol}}" : "",
                req.getHeader("sec-websocket-extensions"), context);
  },
});""",
            knob='res.upgrade({}, key, offered.includes("{{protocol}}") ? "{{protocol}}" : "", '
            "extensions, context)",
        ),
    },
)
