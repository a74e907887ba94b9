"""HAProxy: forwards upgrades in mode http; ``timeout tunnel`` bounds an upgraded connection.

It relays the backend's answer with every header name in lower case (as Node and h11 servers
write theirs: no evidence) and adds no Server of its own, so only its own pages name it: the
503 "No server is available to handle this request." (no Server, no Date).
"""

from wsinspect.diagnose.stacks._match import body_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord

# An idle upgraded connection cut short (research: tests/fixtures/stacks/*/idle_timeout.txt).
IDLE_TIMEOUT = Snippet(
    "haproxy",
    """\
defaults  # or the backend: a frontend ignores timeout tunnel (with a warning)
    timeout tunnel 1h  # idle upgraded connections; else timeout client/server apply""",
    knob="timeout tunnel 1h  # in defaults or the backend, not a frontend",
)


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
            "# HAProxy forwards upgrades by itself in mode http: look for an http-request rule\n"
            "# that deletes Upgrade/Connection; keep upgraded connections open:\n"
            "defaults\n    timeout tunnel 1h",
            knob="defaults: timeout tunnel 1h  # forwards upgrades by itself in mode http",
        ),
        "upstream-failed": Snippet(
            "haproxy",
            """\
# 503 "No server is available": every server of the backend is down, refused, or failed its check
backend be_ws
    server ws1 127.0.0.1:8080 check  # the running WebSocket server""",
            knob="backend be_ws: server ws1 127.0.0.1:8080 check  # the running WebSocket server",
        ),
        "idle-timeout": IDLE_TIMEOUT,
    },
)
