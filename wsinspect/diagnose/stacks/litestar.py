"""Litestar: no Origin setting for WebSockets; a guard refuses before the handshake.

A guard's exception becomes a close before accept, so on uvicorn the browser gets uvicorn's
empty 403, the same bytes FastAPI or Django Channels give. Its JSON error pages, on the same
host, name it: ``{"status_code":404,"detail":"Not Found"}``.
"""

from wsinspect.diagnose.stacks._match import body_matches, empty_refusal
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page

JSON_ERROR = r'^\{"status_code":\d{3},"detail":"[^"]*"'

ALLOW_ORIGIN = Snippet(
    "python",
    """\
ALLOWED_ORIGINS = {"{{origin}}"}  # full origins; CORSConfig does not cover WebSockets

def origin_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if connection.headers.get("origin") not in ALLOWED_ORIGINS:
        raise PermissionDeniedException("origin not allowed")  # a 403 before the 101

@websocket("{{path}}", guards=[origin_guard])
async def handler(socket: WebSocket) -> None: ...""",
    knob="@websocket(..., guards=[origin_guard])  # raise PermissionDeniedException unless "
    'origin == "{{origin}}"',
)

STACK = StackRecord(
    name="Litestar",
    kind="server",
    docs="https://docs.litestar.dev/latest/usage/security/guards.html",
    language="python",
    signals=(
        Signal(
            "empty 403 with no Server header (an ASGI server refusing for the app: Litestar "
            "among others)",
            0.3,
            empty_refusal,
        ),
        Signal(
            'Litestar\'s JSON error {"status_code":…,"detail":…}', 0.8, body_matches(JSON_ERROR)
        ),
    ),
    site_signals=(
        Signal(
            SITE + 'Litestar\'s JSON error page {"status_code":404,"detail":"Not Found"}',
            0.8,
            site_error_page(JSON_ERROR),
        ),
    ),
    fixes={
        "refused-without-origin": Snippet(
            "python",
            """\
def origin_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    origin = connection.headers.get("origin")
    # Browsers always send Origin: none means a script or a command-line client. Admit it, or
    # make the client send the page's (websocat -H "Origin: {{own_origin}}" …).
    if origin is not None and origin not in {"{{origin}}"}:
        raise PermissionDeniedException("origin not allowed")""",
            knob="origin_guard: admit a missing origin (None), refuse the others",
        ),
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "python",
            'await socket.accept(subprotocols="{{protocol}}")',
            knob='await socket.accept(subprotocols="{{protocol}}")',
        ),
    },
)
