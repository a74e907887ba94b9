"""HAProxy: forwards upgrades in mode http; ``timeout tunnel`` bounds an upgraded connection."""

from wsinspect.diagnose.stacks._match import body_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord

STACK = StackRecord(
    name="HAProxy",
    kind="proxy",
    docs="https://docs.haproxy.org/2.6/configuration.html#4.2-timeout%20tunnel",
    language="haproxy",
    signals=(
        Signal(
            "HAProxy error page (No server is available / didn't respond in time)",
            0.9,
            body_matches(
                r"No server is available to handle this request|The server didn't respond in time"
            ),
        ),
    ),
    fixes={
        "upgrade-headers-missing": Snippet(
            "haproxy",
            "# HAProxy forwards upgrades by itself; keep upgraded connections open:\n"
            "defaults\n    timeout tunnel 1h",
            knob="defaults: timeout tunnel 1h  # forwards upgrades by itself in mode http",
        ),
        "closed-abnormally": Snippet(
            "haproxy",
            "defaults\n    timeout tunnel 1h  # idle upgraded connections",
            knob="defaults: timeout tunnel 1h",
        ),
    },
)
