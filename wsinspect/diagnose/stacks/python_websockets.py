"""Python websockets (the new asyncio server, version 14 and later): ``origins=``."""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import both, header_matches, websockets_body
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_server


def date_first_server_last(f: Facts) -> bool:
    """The new server writes Date first and Server last, on its 101 and its refusals alike; the
    legacy one puts Date after the handshake headers, or Server second."""
    names = [name for name, _ in f.response]
    return len(names) > 2 and names[0] == "Date" and names[-1] == "Server"


ALLOW_ORIGIN = Snippet(
    "python",
    """\
# origins= takes full origins, exactly as the browser sends them; add None to admit
# clients that send no Origin (browsers always send one).
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
        Signal(
            "Date the first header and Server the last (how websockets >= 14 orders them)",
            0.6,
            both(header_matches("Server", r"\bwebsockets/"), date_first_server_last),
        ),
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
