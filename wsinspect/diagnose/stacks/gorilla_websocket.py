"""gorilla/websocket, Go: Upgrader.CheckOrigin (same host by default).

Its refusals are http.Error with ``Sec-Websocket-Version: 13`` (Go's casing) and the bare status
text; coder/websocket sends that header too, with its own message, so the header alone is not
enough. A Node proxy (Vite, http-proxy, Next.js) relays the same answer with every name lowercased.
"""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks import _go as go
from wsinspect.diagnose.stacks._match import (
    body_matches,
    both,
    header_spelled,
    refused,
)
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord

STATUS_TEXT = body_matches(r"^(Forbidden|Bad Request|Method Not Allowed)\n$")


def relayed_lowercase(f: Facts) -> bool:
    """gorilla's refusal relayed by a Node proxy: the same headers, every name lowercased."""
    names = [k for k, _ in f.response]
    return (
        refused(f)
        and "sec-websocket-version" in names
        and "x-content-type-options" in names
        and all(name == name.lower() for name in names)
        and f.response.get("Sec-WebSocket-Version") == "13"
    )


ALLOW_ORIGIN = Snippet(
    "go",
    """\
var allowedOrigins = map[string]bool{"{{origin}}": true} // full origins

var upgrader = websocket.Upgrader{
	CheckOrigin: func(r *http.Request) bool { return allowedOrigins[r.Header.Get("Origin")] },
}
// Never `return true`: that admits every site (cross-site WebSocket hijacking).""",
    knob="websocket.Upgrader{CheckOrigin: func(r *http.Request) bool "
    '{ return r.Header.Get("Origin") == "{{origin}}" }}',
)

STACK = StackRecord(
    name="gorilla/websocket",
    kind="server",
    docs="https://pkg.go.dev/github.com/gorilla/websocket#Upgrader",
    language="go",
    signals=(
        Signal(
            '"Sec-Websocket-Version: 13" in Go\'s casing on a refusal whose body is the bare '
            "status text (gorilla's http.Error)",
            0.9,
            both(header_spelled("Sec-Websocket-Version"), refused, STATUS_TEXT),
        ),
        Signal(
            '"Sec-Websocket-Version: 13" spelled in Go\'s casing on a refusal '
            "(gorilla, coder/websocket)",
            0.5,
            both(header_spelled("Sec-Websocket-Version"), refused),
        ),
        Signal(
            "gorilla's refusal (sec-websocket-version: 13, nosniff, the bare status text) "
            "relayed with lowercased header names: behind a Node proxy",
            0.9,
            both(relayed_lowercase, STATUS_TEXT),
        ),
        go.HTTP_ERROR,
    ),
    site_signals=(go.NOT_FOUND_PAGE,),
    fixes={
        "origin-rejected": ALLOW_ORIGIN,
        "cross-origin-accepted": ALLOW_ORIGIN,
        "subprotocol-not-selected": Snippet(
            "go",
            'var upgrader = websocket.Upgrader{Subprotocols: []string{"{{protocol}}"}}',
            knob='websocket.Upgrader{Subprotocols: []string{"{{protocol}}"}}',
        ),
    },
)
