"""aiohttp's web server: no Origin check of its own; the handler checks the header."""

from wsinspect.diagnose.stacks._match import body_matches, header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_server

ALLOW_ORIGIN = Snippet(
    "python",
    """\
ALLOWED_ORIGINS = {"{{origin}}"}  # aiohttp does not check the Origin itself

async def websocket_handler(request):
    if request.headers.get("Origin") not in ALLOWED_ORIGINS:
        raise web.HTTPForbidden()
    ws = web.WebSocketResponse()
    await ws.prepare(request)""",
    knob='if request.headers.get("Origin") != "{{origin}}": raise web.HTTPForbidden()',
)

STACK = StackRecord(
    name="aiohttp",
    kind="server",
    docs="https://docs.aiohttp.org/en/stable/web_reference.html#websocketresponse",
    language="python",
    signals=(
        Signal("Server: … aiohttp/…", 0.9, header_matches("Server", r"\baiohttp/")),
        Signal('body "No WebSocket UPGRADE hdr"', 0.8, body_matches(r"No WebSocket UPGRADE hdr")),
    ),
    site_signals=(Signal(SITE + "Server: … aiohttp/…", 0.6, site_server(r"\baiohttp/")),),
    fixes={
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "python",
            'ws = web.WebSocketResponse(protocols=("{{protocol}}",))',
            knob='web.WebSocketResponse(protocols=("{{protocol}}",))',
        ),
    },
)
