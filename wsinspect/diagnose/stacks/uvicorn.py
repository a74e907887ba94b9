"""uvicorn, the ASGI server under FastAPI, Starlette, Litestar, Django Channels, python-socketio.

When the app closes before accepting, uvicorn answers for it: an empty 403 without a Server
header, the same bytes whichever framework refused. That names uvicorn, not the framework; the
host's other answers (their 404 pages, cookies) tell the frameworks apart in their own records.
uvicorn has no Origin or subprotocol setting: the app decides both. Its weights stop at the bar
and it has no site signals, so that a framework the host's pages name (0.8 and more with them)
ranks above the server it runs on.
"""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import header_matches
from wsinspect.diagnose.stacks._record import NoFix, Signal, StackRecord

# uvicorn's own answers, header names in the order each of its WebSocket implementations
# writes them (none sends Server on them, unlike on its 101 and its pages).
SANSIO = ["Date", "Connection", "Content-Length", "Content-Type"]  # --ws auto (websockets)
LEGACY = ["Date", "Content-Length", "Content-Type", "Connection"]  # --ws websockets
WSPROTO = ["content-length"]  # --ws wsproto: a status line without reason, and this


def _names(f: Facts) -> list[str]:
    return [name for name, _ in f.response]


def own_answer(f: Facts) -> bool:
    """uvicorn's refusal through websockets: Date first, Connection: close, no Server."""
    names = _names(f)
    return (
        f.status not in (None, 101)
        and names in (SANSIO, LEGACY)
        and f.response.get("Connection") == "close"
        and (f.response.get("Content-Type") or "").startswith("text/plain")
    )


def empty_wsproto_refusal(f: Facts) -> bool:
    response = f.handshake.response
    return (
        f.status == 403
        and response is not None
        and not response.reason
        and _names(f) == WSPROTO
        and f.response.get("content-length") == "0"
    )


def relayed_denial(f: Facts) -> bool:
    """The app's own refusal (ASGI denial response): its headers as the app spelled them, in
    lowercase, then uvicorn's Date and Connection: close."""
    names = _names(f)
    return (
        f.status not in (None, 101)
        and len(names) > 2
        and names[-2:] == ["Date", "Connection"]
        and all(name == name.lower() for name in names[:-2])
        and f.response.get("Connection") == "close"
        and not f.response.has("Server")
    )


NO_ORIGIN_SETTING = NoFix(
    "uvicorn has no Origin setting: the ASGI app behind it refuses, and uvicorn's empty 403 "
    "does not say which app. FastAPI/Starlette: check websocket.headers['origin'] before "
    "accept(); Django Channels: OriginValidator; Litestar: a guard; python-socketio: "
    "cors_allowed_origins. The host's other pages usually tell which framework it is."
)

STACK = StackRecord(
    name="uvicorn",
    kind="server",
    docs="https://www.uvicorn.org/settings/",
    language="python",
    popular=False,  # no knob of its own: the frameworks' lines say what to change
    signals=(
        Signal("server: uvicorn", 0.8, header_matches("Server", r"^uvicorn$")),
        Signal(
            "Date, Connection: close, Content-Length, text/plain and no Server "
            "(uvicorn answering for the ASGI app)",
            0.8,
            own_answer,
        ),
        Signal(
            'status line "403 " with no reason phrase and only content-length: 0 '
            "(uvicorn --ws wsproto)",
            0.6,
            empty_wsproto_refusal,
        ),
        Signal(
            "the app's lowercase headers, then Date and Connection: close (uvicorn relaying "
            "an ASGI denial response; Node's http module orders them alike)",
            0.4,
            relayed_denial,
        ),
    ),
    fixes={
        "origin-rejected": NO_ORIGIN_SETTING,
        "cross-origin-accepted": NO_ORIGIN_SETTING,
        "refused-without-origin": NoFix(
            "uvicorn checks no Origin: the app behind it refused a handshake without one "
            "(Django Channels' validators do; so do checks written as `origin not in ALLOWED`)."
        ),
        "subprotocol-not-selected": NoFix(
            "uvicorn hands the offered subprotocols to the app (scope['subprotocols']); the app "
            "names one when it accepts: websocket.accept(subprotocol=…) in Starlette/FastAPI, "
            "self.accept(subprotocol=…) in a Channels consumer."
        ),
    },
)
