"""python-socketio (python-engineio underneath): ``cors_allowed_origins`` governs the WebSocket.

Unlike Node's Socket.IO, whose ``cors`` option covers polling only, engineio checks the Origin
first on every request, the upgrade included. On aiohttp its refusals are 400s whose body is a
JSON string, quotes and all; behind an ASGI server (uvicorn, Hypercorn) engineio closes instead
of answering, so the server's empty 403 is all the browser gets, whatever the cause: a refused
Origin, an unknown sid, an unknown transport, an Engine.IO version the server does not speak.
"""

import re

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import (
    body_matches,
    both,
    path_has,
    status_is,
    with_origin,
)
from wsinspect.diagnose.stacks._record import NoFix, Refusal, Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page

NOT_ACCEPTED = r'^"[^"]* is not an accepted origin\."$'
ENGINEIO_ERRORS = (
    r'^"(Invalid session [^"]*|Invalid transport|Invalid websocket upgrade|Unauthorized'
    r"|The client is using an unsupported version of the Socket\.IO or Engine\.IO protocols)\"$"
)
ENGINEIO_PATH = r"[?&]EIO=\d+"
# engineio's open packet: pingTimeout before pingInterval (Node's engine.io has the reverse)
OPEN_PACKET = re.compile(r'^0\{"sid":"[^"]*","upgrades":\[[^\]]*\],"pingTimeout":')


def empty_asgi_refusal(f: Facts) -> bool:
    """An empty 403 without Content-Type: an ASGI server answering for an app that closed."""
    return f.status == 403 and not f.body and not f.response.has("Content-Type")


def asgi_refusal_on_engineio_path(f: Facts) -> bool:
    return path_has(ENGINEIO_PATH)(f) and (
        empty_asgi_refusal(f)
        or (f.status == 403 and not f.body and f.response.get("Content-Length") == "0")
    )


def engineio_open_packet(f: Facts) -> bool:
    ws = f.handshake.websocket
    if ws is None:
        return False
    return any(m.side == "server" and OPEN_PACKET.match(m.preview) for m in list(ws.messages)[:3])


ALLOW_ORIGIN = Snippet(
    "python",
    """\
# Full origins, as the browser sends them; "*" would let any site in as the user.
sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=["{{origin}}"])
# Behind uvicorn or Hypercorn the same empty 403 also means: an unknown sid (several workers
# without sticky sessions) or an Engine.IO version the server does not speak (python-socketio 5
# wants socket.io-client 3 or 4). The server's log names which.""",
    knob='socketio.AsyncServer(cors_allowed_origins=["{{origin}}"])',
)

STACK = StackRecord(
    name="python-socketio",
    kind="server",
    docs="https://python-socketio.readthedocs.io/en/latest/api.html#socketio.AsyncServer",
    language="python",
    signals=(
        Signal(
            'body "<origin> is not an accepted origin." as a JSON string (engineio)',
            0.95,
            body_matches(NOT_ACCEPTED),
        ),
        Signal(
            'an Engine.IO error as a JSON string ("Invalid session …", "Invalid transport", …)',
            0.9,
            body_matches(ENGINEIO_ERRORS),
        ),
        Signal('body "Method Not Found" (engineio)', 0.6, body_matches(r"^Method Not Found$")),
        Signal(
            "request path with EIO= (Engine.IO, Node's or Python's)", 0.3, path_has(ENGINEIO_PATH)
        ),
        Signal(
            "an ASGI server's empty 403 on the Engine.IO path (engineio closed before accepting)",
            0.9,
            asgi_refusal_on_engineio_path,
        ),
        Signal(
            "Engine.IO open packet with pingTimeout before pingInterval (python-engineio; Node's "
            "has pingInterval first)",
            0.7,
            engineio_open_packet,
        ),
    ),
    site_signals=(
        Signal(
            SITE + "an Engine.IO refusal as a JSON string (a polling request python-engineio "
            "refused)",
            0.6,
            site_error_page(f"{NOT_ACCEPTED}|{ENGINEIO_ERRORS}"),
        ),
    ),
    refusals=(
        Refusal(
            "origin-rejected",
            "python-socketio's cors_allowed_origins does not list it (400 naming the origin)",
            both(status_is(400), with_origin, body_matches(NOT_ACCEPTED)),
        ),
    ),
    fixes={
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": NoFix(
            "python-socketio selects no WebSocket subprotocol: let the client offer none "
            "(io(url) without a protocols option)."
        ),
        "engineio-session-unknown": Snippet(
            "python",
            """\
# The sid was opened on another worker: every request of a session must reach the same one.
# Run one worker, or make the load balancer sticky, with a message queue between workers:
sio = socketio.AsyncServer(client_manager=socketio.AsyncRedisManager("redis://"))
# or let the client skip polling, so that no session spans two requests:
#   io("{{origin}}", { transports: ["websocket"] })""",
            knob="sticky sessions + AsyncServer(client_manager=socketio.AsyncRedisManager(…)), "
            'or the client\'s transports: ["websocket"]',
        ),
        "engineio-version-mismatch": Snippet(
            "text",
            """\
python-socketio 5 speaks Engine.IO 4 only (EIO=4), with no mode for older clients:
use socket.io-client 3 or 4 (an EIO=3 client is socket.io-client 2), or pin
python-socketio 4 while the clients are upgraded.""",
            knob="socket.io-client 3 or 4 for python-socketio 5 (no EIO=3 mode)",
        ),
        "engineio-transport-unknown": Snippet(
            "python",
            'sio = socketio.AsyncServer(transports=["polling", "websocket"])  # the default',
            knob='socketio.AsyncServer(transports=["polling", "websocket"])',
        ),
    },
)
