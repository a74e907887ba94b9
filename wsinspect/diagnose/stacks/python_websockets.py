"""Python websockets (the new asyncio server, version 14 and later): ``origins=``."""

from wsinspect.diagnose.stacks._match import both, header_matches, websockets_body
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_server

ALLOW_ORIGIN = Snippet(
    "python",
    """\
# origins= takes full origins, exactly as the browser sends them.
async with serve(handler, host, port, origins=["{{origin}}"]):
    ...
# Leaving origins unset admits every site; with cookie auth that is cross-site hijacking.""",
    knob='serve(handler, host, port, origins=["{{origin}}"])',
)

STACK = StackRecord(
    name="Python websockets",
    kind="server",
    docs="https://websockets.readthedocs.io/en/stable/reference/asyncio/server.html",
    language="python",
    signals=(
        Signal(
            'body "Failed to open a WebSocket connection: …", charset=utf-8 (websockets >= 14)',
            0.9,
            both(websockets_body, header_matches("Content-Type", r"charset=utf-8")),
        ),
        Signal("Server: … websockets/…", 0.7, header_matches("Server", r"\bwebsockets/")),
    ),
    site_signals=(Signal(SITE + "Server: … websockets/…", 0.5, site_server(r"\bwebsockets/")),),
    fixes={
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "python",
            'async with serve(handler, host, port, subprotocols=["{{protocol}}"]):\n    ...',
            knob='serve(handler, host, port, subprotocols=["{{protocol}}"])',
        ),
    },
)
