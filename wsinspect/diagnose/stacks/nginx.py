"""nginx as a reverse proxy: forwards an upgrade only when told to (HTTP/1.1, two headers)."""

from wsinspect.diagnose.stacks._match import body_matches, header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_error_page, site_server

FORWARD_UPGRADE = Snippet(
    "nginx",
    """\
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
    proxy_read_timeout 1h;
}""",
    knob="proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; "
    "proxy_set_header Connection $connection_upgrade;",
)

STACK = StackRecord(
    name="nginx",
    kind="proxy",
    docs="https://nginx.org/en/docs/http/websocket.html",
    language="nginx",
    signals=(
        Signal("Server: nginx", 0.9, header_matches("Server", r"^nginx")),
        Signal("nginx error page (<center>nginx</center>)", 0.9, body_matches(r"<center>nginx")),
    ),
    site_signals=(
        Signal(SITE + "Server: nginx", 0.4, site_server(r"^nginx")),
        Signal(SITE + "nginx error page", 0.45, site_error_page(r"<center>nginx")),
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
        "upstream-failed": Snippet(
            "nginx",
            "upstream backend { server 127.0.0.1:8080; }  # must point at the running WebSocket "
            "server\nproxy_connect_timeout 5s;",
            knob="upstream backend { server 127.0.0.1:8080; }  # the running WebSocket server",
        ),
        "closed-abnormally": Snippet(
            "nginx",
            "proxy_read_timeout 1h;  # nginx closes idle upgraded connections after 60 s "
            "(close 1006)\nproxy_send_timeout 1h;",
            knob="proxy_read_timeout 1h; proxy_send_timeout 1h;",
        ),
    },
)
