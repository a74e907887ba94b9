"""Python websockets' legacy server, as uvicorn's default WebSocket implementation runs it."""

from wsinspect.diagnose.stacks._match import header_matches, websockets_body
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_server

ALLOW_ORIGIN = Snippet(
    "python",
    """\
# origins= takes full origins, exactly as the browser sends them.
server = await websockets.serve(handler, host, port, origins=["{{origin}}"])""",
    knob='websockets.serve(handler, host, port, origins=["{{origin}}"])',
)

STACK = StackRecord(
    name="Python websockets (legacy)",
    kind="server",
    docs="https://websockets.readthedocs.io/en/stable/reference/legacy/server.html",
    language="python",
    popular=False,  # the table's "Python websockets" line says the same
    signals=(
        Signal(
            'body "Failed to open a WebSocket connection: …" as text/plain without charset '
            "(websockets legacy server, as used by uvicorn)",
            0.9,
            lambda f: websockets_body(f) and f.response.get("Content-Type") == "text/plain",
        ),
        Signal("Server: … websockets/…", 0.6, header_matches("Server", r"\bwebsockets/")),
    ),
    site_signals=(Signal(SITE + "Server: … websockets/…", 0.45, site_server(r"\bwebsockets/")),),
    fixes={
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "python",
            'await websockets.serve(handler, host, port, subprotocols=["{{protocol}}"])',
            knob='websockets.serve(handler, host, port, subprotocols=["{{protocol}}"])',
        ),
    },
)
