"""Cloudflare's proxy: WebSockets are a zone setting."""

from wsinspect.diagnose.stacks._match import has_header, header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord

STACK = StackRecord(
    name="Cloudflare",
    kind="proxy",
    docs="https://developers.cloudflare.com/network/websockets/",
    language="text",
    signals=(
        Signal("Server: cloudflare", 0.9, header_matches("Server", r"^cloudflare")),
        Signal("CF-RAY header", 0.9, has_header("CF-RAY")),
    ),
    fixes={
        "upgrade-headers-missing": Snippet(
            "text",
            "Dashboard → Network → WebSockets: On.",
            knob="Dashboard → Network → WebSockets: On",
        ),
    },
)
