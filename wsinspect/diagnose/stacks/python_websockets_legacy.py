"""Python websockets' legacy server, as uvicorn's default WebSocket implementation runs it."""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import header_matches, websockets_body
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_server


def legacy_order(f: Facts) -> bool:
    """The legacy server writes Server right after Date (its 101 ends with them, its refusals
    start with them); the new one writes Date first and Server last."""
    names = [name for name, _ in f.response]
    if "websockets/" not in (f.response.get("Server") or ""):
        return False
    return {"Date", "Server"} <= set(names) and names.index("Server") == names.index("Date") + 1


ALLOW_ORIGIN = Snippet(
    "python",
    """\
# origins= takes full origins, exactly as the browser sends them; add None to admit
# clients that send no Origin (browsers always send one).
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
        Signal(
            "Server right after Date (the legacy server's order)",
            0.6,
            legacy_order,
        ),
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
