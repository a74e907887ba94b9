"""gorilla/websocket, Go: Upgrader.CheckOrigin (same host by default)."""

from wsinspect.diagnose.stacks._match import (
    body_matches,
    both,
    go_http_error,
    header_spelled,
    refused,
)
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page

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
            '"Sec-Websocket-Version: 13" spelled in Go\'s casing on a refusal',
            0.9,
            both(header_spelled("Sec-Websocket-Version"), refused),
        ),
        Signal(
            "body is the bare status text (gorilla's http.Error)",
            0.2,
            body_matches(r"^(Forbidden|Bad Request|Method Not Allowed)\n$"),
        ),
        Signal("Go http.Error headers (text/plain; charset=utf-8, nosniff)", 0.1, go_http_error),
    ),
    site_signals=(
        Signal(
            SITE + "Go net/http's 404 page not found",
            0.15,
            site_error_page(r"^404 page not found\n$"),
        ),
    ),
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
