"""Sanic: no Origin check of its own; request middleware refuses before the handshake.

Sanic answers the upgrade before the handler runs, so the check goes in ``@app.on_request``.
Its error pages, as text when the request did not ask for HTML, are an emoji, the status and
the reason, underlined with ``=``; its headers are lowercase and carry no Server.
"""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import body_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page

# "⚠️ 403 — Forbidden\n==================\n<message>"
ERROR_PAGE = r"^\u26a0\ufe0f \d{3} \u2014 [^\n]+\n=+\n"


def lowercase_101(f: Facts) -> bool:
    names = [name for name, _ in f.response]
    return (
        f.status == 101
        and names[:4] == ["date", "upgrade", "connection", "sec-websocket-accept"]
        and not f.response.has("Server")
    )


ALLOW_ORIGIN = Snippet(
    "python",
    """\
ALLOWED_ORIGINS = {"{{origin}}"}  # full origins; Sanic does not check the Origin itself

@app.on_request
async def check_origin(request):
    # The handshake happens before the websocket handler runs: refuse here.
    if request.path == "{{path}}" and request.headers.get("origin") not in ALLOWED_ORIGINS:
        raise Forbidden("origin not allowed")""",
    knob='@app.on_request: if request.headers.get("origin") != "{{origin}}": raise Forbidden()',
)

STACK = StackRecord(
    name="Sanic",
    kind="server",
    docs="https://sanic.dev/en/guide/advanced/websockets.html",
    language="python",
    signals=(
        Signal(
            'Sanic\'s text error page "⚠️ <status> — <reason>" underlined with "="',
            0.9,
            body_matches(ERROR_PAGE),
        ),
        Signal(
            "101 with lowercase date, upgrade, connection, sec-websocket-accept and no Server",
            0.5,
            lowercase_101,
        ),
    ),
    site_signals=(
        Signal(
            SITE + 'Sanic\'s text error page "⚠️ <status> — <reason>"',
            0.6,
            site_error_page(ERROR_PAGE),
        ),
    ),
    fixes={
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "python",
            """\
# Sanic refuses (400 "invalid subprotocol") an offer it does not list
@app.websocket("{{path}}", subprotocols=["{{protocol}}"])
async def handler(request, ws):
    ...""",
            knob='@app.websocket("{{path}}", subprotocols=["{{protocol}}"])',
        ),
    },
)
