"""coder/websocket (formerly nhooyr.io/websocket), Go: a same-host Origin check by default."""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks import _go as go
from wsinspect.diagnose.stacks._match import body_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord

GO_101 = (
    "Connection",
    "Sec-Websocket-Accept",
    "Sec-Websocket-Extensions",
    "Sec-Websocket-Protocol",
    "Upgrade",
)


def go_canonical_101(f: Facts) -> bool:
    """coder's 101 goes through net/http: Go's canonical casing (Sec-Websocket-Accept), sorted
    by name. gorilla and most others write the 101 by hand (Sec-WebSocket-Accept)."""
    names = [k for k, _ in f.response]
    return (
        f.status == 101
        and "Sec-Websocket-Accept" in names
        and names == sorted(names)
        and set(names) <= set(GO_101)
    )


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
        go.HTTP_ERROR,
        Signal(
            "101 in Go's canonical casing, sorted (Connection, Sec-Websocket-Accept, Upgrade)",
            0.85,
            go_canonical_101,
        ),
    ),
    site_signals=(go.NOT_FOUND_PAGE,),
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
