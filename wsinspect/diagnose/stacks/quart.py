"""Quart: no Origin setting; ``abort(403)`` before ``websocket.accept()`` refuses the upgrade.

Quart runs on Hypercorn and refuses through the ASGI denial response, so the browser gets
Hypercorn's reason-less status line with Werkzeug's HTML error page: that pair is Quart's.
"""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import body_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page

WERKZEUG_PAGE = r"^<!doctype html>\n<html lang=en>\n<title>\d{3} [^<]*</title>\n<h1>"


def werkzeug_page_from_hypercorn(f: Facts) -> bool:
    return bool(
        body_matches(WERKZEUG_PAGE)(f)
        and f.handshake.response is not None
        and not f.handshake.response.reason
        and (f.response.get("server") or "").startswith("hypercorn-")
    )


ALLOW_ORIGIN = Snippet(
    "python",
    """\
ALLOWED_ORIGINS = {"{{origin}}"}  # full origins; Quart does not check the Origin itself

@app.websocket("{{path}}")
async def ws():
    if websocket.headers.get("Origin") not in ALLOWED_ORIGINS:
        abort(403)  # before accept(): the browser gets a 403, not a 101
    await websocket.accept()""",
    knob='if websocket.headers.get("Origin") != "{{origin}}": abort(403)  # before accept()',
)

STACK = StackRecord(
    name="Quart",
    kind="server",
    docs="https://quart.palletsprojects.com/en/latest/how_to_guides/websockets.html",
    language="python",
    signals=(
        Signal(
            "Werkzeug's HTML error page under Hypercorn's reason-less status line (Quart)",
            0.9,
            werkzeug_page_from_hypercorn,
        ),
        Signal(
            "Werkzeug's HTML error page (<!doctype html><html lang=en><title>…; Flask's too)",
            0.3,
            body_matches(WERKZEUG_PAGE),
        ),
    ),
    site_signals=(
        Signal(
            SITE + "Werkzeug's HTML error pages (Flask or Quart)",
            0.3,
            site_error_page(WERKZEUG_PAGE),
        ),
    ),
    fixes={
        "refused-without-origin": Snippet(
            "python",
            """\
ALLOWED_ORIGINS = {"{{origin}}"}
origin = websocket.headers.get("Origin")
# Browsers always send Origin: none means a script or a command-line client. Admit it, or
# make the client send the page's (websocat -H "Origin: {{own_origin}}" …).
if origin is not None and origin not in ALLOWED_ORIGINS:
    abort(403)  # before accept()""",
            knob="if origin is not None and origin not in ALLOWED_ORIGINS: abort(403)",
        ),
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "python",
            """\
if "{{protocol}}" in websocket.requested_subprotocols:
    await websocket.accept(subprotocol="{{protocol}}")""",
            knob='await websocket.accept(subprotocol="{{protocol}}")',
        ),
    },
)
