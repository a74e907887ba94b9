"""Hypercorn, an ASGI server (Quart's, and python-socketio's or FastAPI's at times).

It has no Origin or subprotocol setting: the app decides both. When the app closes before
accepting, Hypercorn answers ``403`` with no reason phrase and an empty body; every status line
it writes lacks the reason phrase. Its weights stay under those of the frameworks whose own
answers it carries (Quart's error pages, Engine.IO's path), and it has no site signals: a
framework the host's pages name ranks above the server it runs on.
"""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import header_matches
from wsinspect.diagnose.stacks._record import NoFix, Signal, StackRecord

HYPERCORN = r"^hypercorn-"  # hypercorn-h11, hypercorn-h2


def no_reason_phrase(f: Facts) -> bool:
    response = f.handshake.response
    return response is not None and not response.reason and f.response.has("date")


NO_ORIGIN_SETTING = NoFix(
    "Hypercorn has no Origin setting: the ASGI app behind it refuses before accepting (Quart: "
    "abort(403) before websocket.accept(); FastAPI/Starlette: close() before accept(); "
    "python-socketio: cors_allowed_origins), and Hypercorn's empty 403 does not say which."
)

STACK = StackRecord(
    name="Hypercorn",
    kind="server",
    docs="https://hypercorn.readthedocs.io/en/latest/",
    language="python",
    popular=False,  # no knob of its own: the frameworks' lines say what to change
    signals=(
        Signal("server: hypercorn-h11", 0.85, header_matches("Server", HYPERCORN)),
        Signal(
            "status line without a reason phrase, with a date header (h11 as Hypercorn uses it)",
            0.2,
            no_reason_phrase,
        ),
    ),
    fixes={
        "origin-rejected": NO_ORIGIN_SETTING,
        "cross-origin-accepted": NO_ORIGIN_SETTING,
        "refused-without-origin": NoFix(
            "Hypercorn checks no Origin: the app behind it refused a handshake without one "
            "(checks written as `origin not in ALLOWED` do)."
        ),
        "subprotocol-not-selected": NoFix(
            "Hypercorn hands the offered subprotocols to the app; the app names one when it "
            'accepts (Quart: await websocket.accept(subprotocol="…")).'
        ),
    },
)
