"""Flask-Sock on Werkzeug: no Origin check; a ``before_request`` hook refuses before the handshake.

Flask-Sock's route wrapper answers the 101 before the view runs, so an Origin check in the view
comes too late: the hook is the idiomatic place. Werkzeug's answers carry its Server header and
its reason phrases in capitals (``403 FORBIDDEN``); simple-websocket's 101 carries neither.
"""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import body_matches, header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page, site_server

WERKZEUG_PAGE = r"^<!doctype html>\n<html lang=en>\n<title>\d{3} [^<]*</title>\n<h1>"


def uppercase_reason(f: Facts) -> bool:
    """Werkzeug writes reason phrases in capitals: ``403 FORBIDDEN``, ``404 NOT FOUND`` (every
    server's ``200 OK`` is, so only error answers count)."""
    response = f.handshake.response
    reason = response.reason if response is not None else ""
    return f.status is not None and f.status >= 400 and reason.isupper() and len(reason) > 3


ALLOW_ORIGIN = Snippet(
    "python",
    """\
ALLOWED_ORIGINS = {"{{origin}}"}  # full origins; Flask-Sock does not check the Origin itself

@app.before_request
def check_origin():
    # The handshake happens before the view runs: refuse here, not in the view.
    if request.path == "{{path}}" and request.headers.get("Origin") not in ALLOWED_ORIGINS:
        abort(403)""",
    knob='@app.before_request: if request.headers.get("Origin") != "{{origin}}": abort(403)',
)

STACK = StackRecord(
    name="Flask-Sock (Werkzeug)",
    kind="server",
    docs="https://flask-sock.readthedocs.io/en/latest/",
    language="python",
    signals=(
        Signal("Server: Werkzeug/…", 0.8, header_matches("Server", r"^Werkzeug/")),
        Signal(
            "reason phrase in capitals, as Werkzeug writes it (403 FORBIDDEN)",
            0.5,
            uppercase_reason,
        ),
        Signal(
            "Werkzeug's HTML error page (<!doctype html><html lang=en><title>…; Quart's too)",
            0.3,
            body_matches(WERKZEUG_PAGE),
        ),
    ),
    site_signals=(
        Signal(SITE + "Server: Werkzeug/…", 0.6, site_server(r"^Werkzeug/")),
        Signal(SITE + "Werkzeug's HTML error page", 0.3, site_error_page(WERKZEUG_PAGE)),
    ),
    fixes={
        "refused-without-origin": Snippet(
            "python",
            """\
ALLOWED_ORIGINS = {"{{origin}}"}

@app.before_request
def check_origin():
    origin = request.headers.get("Origin")
    # Browsers always send Origin: none means a script or a command-line client. Admit it, or
    # make the client send the page's (websocat -H "Origin: {{own_origin}}" …).
    if request.path == "{{path}}" and origin is not None and origin not in ALLOWED_ORIGINS:
        abort(403)""",
            knob="@app.before_request: admit a missing Origin (origin is None), refuse the rest",
        ),
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "python",
            """\
# simple-websocket selects the first of these the client offers (app-wide)
app.config["SOCK_SERVER_OPTIONS"] = {"subprotocols": ["{{protocol}}"]}""",
            knob='app.config["SOCK_SERVER_OPTIONS"] = {"subprotocols": ["{{protocol}}"]}',
        ),
    },
)
