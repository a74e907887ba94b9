"""Starlette and FastAPI on uvicorn: no Origin check of their own; the app checks the header."""

from wsinspect.diagnose.stacks._match import empty_refusal, header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page, site_server

ALLOW_ORIGIN = Snippet(
    "python",
    """\
ALLOWED_ORIGINS = {"{{origin}}"}  # full origins

@app.websocket("{{path}}")
async def endpoint(websocket: WebSocket):
    if websocket.headers.get("origin") not in ALLOWED_ORIGINS:
        await websocket.close(code=1008)  # before accept(): the browser sees a 403
        return
    await websocket.accept()
# CORSMiddleware does not apply to WebSocket routes.""",
    knob='if websocket.headers.get("origin") != "{{origin}}": await websocket.close(1008)',
)

STACK = StackRecord(
    name="Starlette/FastAPI (uvicorn)",
    kind="server",
    docs="https://www.starlette.io/websockets/",
    language="python",
    signals=(
        Signal(
            "empty 403 with Content-Length: 0 and no Server header (uvicorn's refusal)",
            0.45,
            empty_refusal,
        ),
        Signal(
            "server: uvicorn (names the ASGI server; FastAPI and Starlette are the apps most "
            "often on it)",
            0.4,
            header_matches("Server", r"^uvicorn"),
        ),
        Signal(
            "Date, Connection: close, empty text/plain and no Server (uvicorn refusing "
            "through websockets)",
            0.3,
            lambda f: (
                empty_refusal(f)
                and f.response.has("Date")
                and f.response.get("Connection") == "close"
            ),
        ),
        Signal(
            'status line "403 " with no reason phrase (uvicorn --ws wsproto)',
            0.3,
            lambda f: (
                f.status == 403
                and f.handshake.response is not None
                and not f.handshake.response.reason
            ),
        ),
    ),
    site_signals=(
        Signal(
            SITE + "server: uvicorn (an ASGI server: Starlette, FastAPI, Django, Litestar…)",
            0.3,
            site_server(r"^uvicorn$"),
        ),
        Signal(
            SITE + 'FastAPI\'s JSON 404 {"detail":"Not Found"}',
            0.7,
            site_error_page(r'^\{"detail":"Not Found"\}$'),
        ),
        Signal(
            SITE + 'Starlette\'s text/plain 404 "Not Found"', 0.45, site_error_page(r"^Not Found$")
        ),
    ),
    fixes={
        "refused-without-origin": Snippet(
            "python",
            """\
ALLOWED_ORIGINS = {"{{origin}}"}

origin = websocket.headers.get("origin")
# Browsers always send Origin: none means a script or a command-line client. Admit it, or
# make the client send the page's (websocat -H "Origin: {{own_origin}}" …).
if origin is not None and origin not in ALLOWED_ORIGINS:
    raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)  # before accept()""",
            knob="if origin is not None and origin not in ALLOWED_ORIGINS: raise "
            "WebSocketException(1008)",
        ),
        "refused-after-upgrade": Snippet(
            "python",
            """\
@app.websocket("{{path}}")
async def endpoint(websocket: WebSocket):
    # Check before accept(): a close (or WebSocketException) then is a 403 to the browser;
    # after accept() the page sees open, then close 1008.
    if websocket.headers.get("origin") not in ALLOWED_ORIGINS:
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)
    await websocket.accept()""",
            knob="raise WebSocketException(code=1008) before websocket.accept(), not after",
        ),
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "python",
            'await websocket.accept(subprotocol="{{protocol}}")',
            knob='await websocket.accept(subprotocol="{{protocol}}")',
        ),
    },
)
