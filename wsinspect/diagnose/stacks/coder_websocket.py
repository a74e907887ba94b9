"""coder/websocket (formerly nhooyr.io/websocket), Go: a same-host Origin check by default."""

from wsinspect.diagnose.stacks._match import body_matches, go_http_error
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page

ALLOW_ORIGIN = Snippet(
    "go",
    """\
// OriginPatterns match the Origin's host[:port] only: "{{origin_host}}", never a URL.
conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
	OriginPatterns: []string{"{{origin_host}}"},
})
// Not InsecureSkipVerify: true — it admits every site (cross-site WebSocket hijacking).""",
    knob='websocket.AcceptOptions{OriginPatterns: []string{"{{origin_host}}"}}',
)

STACK = StackRecord(
    name="coder/websocket",
    kind="server",
    docs="https://pkg.go.dev/github.com/coder/websocket#AcceptOptions",
    language="go",
    signals=(
        Signal(
            'body "request Origin … is not authorized for Host …" (coder/websocket)',
            0.97,
            body_matches(r'^request Origin ".*" is not authorized for Host ".*"\n?$'),
        ),
        Signal(
            'body "request Origin … is not a valid URL with a host"',
            0.97,
            body_matches(r'^request Origin ".*" is not a valid URL with a host'),
        ),
        Signal(
            'body starts "WebSocket protocol violation:"',
            0.9,
            body_matches(r"^WebSocket protocol violation:"),
        ),
        Signal(
            'body "unsupported WebSocket protocol version (only 13 is supported)"',
            0.8,
            body_matches(r"only 13 is supported"),
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
            "websocket.Accept(w, r, "
            '&websocket.AcceptOptions{Subprotocols: []string{"{{protocol}}"}})',
            knob='websocket.AcceptOptions{Subprotocols: []string{"{{protocol}}"}}',
        ),
    },
)
