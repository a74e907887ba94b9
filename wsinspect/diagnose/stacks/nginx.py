"""nginx as a reverse proxy: forwards an upgrade only when told to (HTTP/1.1, two headers).

Without them nginx speaks HTTP/1.0 upstream with ``Connection: close`` and no ``Upgrade``, and
relays the backend's refusal under its own ``Server: nginx`` (it replaces the backend's): so
``Server: nginx`` on a refusal does not mean nginx refused, its body says who did. nginx's own
pages end in ``<hr><center>nginx/x.y.z</center>``.
"""

from wsinspect.diagnose.facts import Facts
from wsinspect.diagnose.stacks._match import body_matches, header_matches
from wsinspect.diagnose.stacks._record import Refusal, Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page, site_server

OWN_PAGE = body_matches(r"<center>nginx")
# What a backend says when nginx forwarded the upgrade as HTTP/1.0 with "Connection: close"
_DOWNGRADED = body_matches(r"HTTP/1\.0|Connection[^\n]{0,40}\bclose\b")


def relayed_downgrade(f: Facts) -> bool:
    """A backend's refusal (not nginx's own page) of what nginx sends without the upgrade
    headers: a 505 for HTTP/1.0, or a complaint naming HTTP/1.0 or ``Connection: close``."""
    if f.status is None or f.status == 101 or OWN_PAGE(f):
        return False
    return f.status == 505 or (f.status in (400, 426) and _DOWNGRADED(f))


# A location forwarding the upgrade, as nginx's docs write it (the map makes Connection "close"
# for a plain request); each fix closes the block, after what it adds.
_UPGRADE_LOCATION = """\
map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
}

location {{path}} {
    proxy_pass http://backend;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    proxy_set_header Host $host;
"""

FORWARD_UPGRADE = Snippet(
    "nginx",
    _UPGRADE_LOCATION + "    proxy_read_timeout 1h;\n}",
    knob="proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; "
    "proxy_set_header Connection $connection_upgrade;",
)

# An idle upgraded connection cut short (research: tests/fixtures/stacks/*/idle_timeout.txt).
IDLE_TIMEOUT = Snippet(
    "nginx",
    "proxy_read_timeout 1h;  # nginx closes idle upgraded connections after 60 s "
    "(close 1006)\nproxy_send_timeout 1h;",
    knob="proxy_read_timeout 1h; proxy_send_timeout 1h;",
)


STACK = StackRecord(
    name="nginx",
    kind="proxy",
    docs="https://nginx.org/en/docs/http/websocket.html",
    language="nginx",
    signals=(
        Signal("Server: nginx", 0.9, header_matches("Server", r"^nginx")),
        Signal("nginx error page (<center>nginx</center>)", 0.9, OWN_PAGE),
    ),
    site_signals=(
        Signal(SITE + "Server: nginx", 0.4, site_server(r"^nginx")),
        Signal(SITE + "nginx error page", 0.45, site_error_page(r"<center>nginx")),
    ),
    refusals=(
        Refusal(
            "upgrade-headers-missing",
            "the backend's refusal came through nginx, and it objects to HTTP/1.0 or "
            "`Connection: close`: what nginx sends upstream when the location lacks "
            "`proxy_http_version 1.1` and the Upgrade/Connection headers",
            relayed_downgrade,
        ),
    ),
    fixes={
        "origin-rejected": Snippet(
            "nginx",
            """\
location {{path}} {
    proxy_pass http://backend;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $connection_upgrade;
    proxy_set_header Host $host;  # the backend's same-host Origin check needs the browser's Host
}""",
            knob="proxy_set_header Host $host;  # the backend then sees the browser's Host",
        ),
        "upgrade-headers-missing": FORWARD_UPGRADE,
        "not-upgraded": FORWARD_UPGRADE,
        "not-found": Snippet(
            "nginx",
            """\
# nginx's own 404 page: no location matches {{path}}. The backend's 404 for a WebSocket
# endpoint that exists: this location forwards a plain GET (no Upgrade), which the
# WebSocket route does not serve. Either way:
"""
            + _UPGRADE_LOCATION
            + "}",
            knob="location {{path}} { proxy_pass http://backend; proxy_http_version 1.1; "
            "proxy_set_header Upgrade $http_upgrade; … }",
        ),
        "upstream-failed": Snippet(
            "nginx",
            '# 502 Bad Gateway: nginx could not connect to the backend (error.log: "connect() '
            'failed (111: Connection refused) while connecting to upstream")\n'
            "upstream backend { server 127.0.0.1:8080; }  # must point at the running WebSocket "
            "server\nproxy_connect_timeout 5s;",
            knob="upstream backend { server 127.0.0.1:8080; }  # the running WebSocket server",
        ),
        "idle-timeout": IDLE_TIMEOUT,
    },
)
