"""Apache httpd's mod_proxy: ``upgrade=websocket`` (2.4.47+) or mod_proxy_wstunnel."""

from wsinspect.diagnose.stacks._match import body_matches, header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_server

STACK = StackRecord(
    name="Apache",
    kind="proxy",
    docs="https://httpd.apache.org/docs/2.4/mod/mod_proxy_wstunnel.html",
    language="apache",
    signals=(
        Signal("Server: Apache", 0.9, header_matches("Server", r"^Apache")),
        Signal("Apache proxy error page", 0.7, body_matches(r"<title>50\d Proxy Error</title>")),
    ),
    site_signals=(Signal(SITE + "Server: Apache", 0.4, site_server(r"^Apache")),),
    fixes={
        "upgrade-headers-missing": Snippet(
            "apache",
            'ProxyPass "{{path}}" "ws://localhost:8080{{path}}" upgrade=websocket'
            "  # httpd >= 2.4.47\n"
            "# older httpd: LoadModule proxy_wstunnel_module and ProxyPass to ws://",
            knob='ProxyPass "{{path}}" "ws://localhost:8080{{path}}" upgrade=websocket',
        ),
    },
)
