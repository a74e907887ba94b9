"""@fastify/websocket: Fastify routes the upgrade request through its hooks before ws upgrades it,
so a ``preValidation`` hook (or ws's ``verifyClient`` in the plugin's ``options``) refuses with an
ordinary Fastify reply."""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import body_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page


def fastify_reply_on_the_upgrade(f: Facts) -> bool:
    """Fastify writes its own header names in lowercase, Node then adds ``Date`` and
    ``Connection``; no ``Keep-Alive`` line, because the plugin's ServerResponse for the upgrade
    socket is made by hand, outside Node's server (its pages say ``Keep-Alive: timeout=72``)."""
    names = [k for k, _ in f.response]
    if f.status in (None, 101) or names[-2:] != ["Date", "Connection"]:
        return False
    own = names[:-2]
    return (
        "content-type" in own
        and all(name == name.lower() for name in own)
        and f.response.get("Connection") == "keep-alive"
        and not f.response.has("Keep-Alive")
    )


ALLOW_ORIGIN = Snippet(
    "javascript",
    """\
// A preValidation hook runs before the upgrade: its reply is what the browser gets.
const allowedOrigins = new Set(["{{origin}}"]); // full origins
fastify.get("{{path}}", {
  websocket: true,
  preValidation: async (request, reply) => {
    if (!allowedOrigins.has(request.headers.origin)) {
      return reply.code(403).send({ error: "origin not allowed" });
    }
  },
}, (socket, request) => { /* … */ });
// Or for every route, ws's own check: fastify.register(require("@fastify/websocket"),
//   { options: { verifyClient: (info) => allowedOrigins.has(info.origin) } });
// Never let every origin through: any site could open this socket as the user.""",
    knob='fastify.get("{{path}}", { websocket: true, preValidation: '
    '(req, reply) => { if (req.headers.origin !== "{{origin}}") '
    "return reply.code(403).send(); } })",
)

STACK = StackRecord(
    name="@fastify/websocket",
    kind="server",
    docs="https://github.com/fastify/fastify-websocket#readme",
    language="javascript",
    signals=(
        Signal(
            "lowercase content-type/content-length, then Node's Date and Connection: keep-alive "
            "without Keep-Alive (Fastify's reply on the upgrade socket)",
            0.8,
            fastify_reply_on_the_upgrade,
        ),
        Signal(
            'body {"message":"Route GET:… not found","error":"Not Found","statusCode":404} '
            "(Fastify's 404)",
            0.95,
            body_matches(
                r'^\{"message":"Route [A-Z]+:[^"]* not found","error":"Not Found",'
                r'"statusCode":404\}$'
            ),
        ),
        Signal(
            'body {"statusCode":…,"code":…,"error":…,"message":…} (Fastify\'s error reply)',
            0.7,
            body_matches(r'^\{"statusCode":\d{3},("code":"[^"]*",)?"error":"[^"]*","message":'),
        ),
    ),
    site_signals=(
        Signal(
            SITE + "Fastify's 404 (Route GET:… not found)",
            0.5,
            site_error_page(r'^\{"message":"Route [A-Z]+:[^"]* not found"'),
        ),
    ),
    fixes={
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "javascript",
            """\
fastify.register(require("@fastify/websocket"), {
  options: {
    handleProtocols: (protocols) => (protocols.has("{{protocol}}") ? "{{protocol}}" : false),
  },
});""",
            knob='register(require("@fastify/websocket"), { options: { handleProtocols: '
            '(p) => p.has("{{protocol}}") ? "{{protocol}}" : false } })',
        ),
        "not-found": Snippet(
            "javascript",
            """\
// Only a route declared with websocket: true upgrades; the path must match the client's URL.
fastify.register(async (fastify) => {
  fastify.get("{{path}}", { websocket: true }, (socket, request) => { /* … */ });
});""",
            knob='fastify.get("{{path}}", { websocket: true }, handler) '
            "after registering the plugin",
        ),
    },
)
