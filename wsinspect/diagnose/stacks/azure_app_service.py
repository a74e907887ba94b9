"""Azure App Service: WebSockets are a site setting, off by default on many plans.

While it is off, the front end answers a handshake with 503 (the body is not documented: only
the status is known from reports). Its ARR front end sets an ``ARRAffinity`` cookie, which on-
premises IIS with ARR sets too.
"""

from wsinspect.diagnose.stacks._match import header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_cookie

TURN_ON = Snippet(
    "text",
    "App Service answers 503 to every WebSocket handshake while Web sockets is Off:\n"
    "az webapp config set --web-sockets-enabled true -g <group> -n <app>\n"
    "(Portal: Configuration → General settings → Web sockets: On; ARM: "
    "siteConfig.webSocketsEnabled: true)",
    knob="az webapp config set --web-sockets-enabled true  # 503 while Web sockets is Off",
)

STACK = StackRecord(
    name="Azure App Service",
    kind="proxy",
    docs="https://learn.microsoft.com/azure/app-service/configure-common#configure-general-settings",
    language="text",
    signals=(
        Signal(
            "an ARRAffinity cookie (App Service's ARR front end)",
            0.6,
            header_matches("Set-Cookie", r"^ARRAffinity(SameSite)?="),
        ),
    ),
    site_signals=(
        Signal(SITE + "an ARRAffinity cookie", 0.6, site_cookie(r"ARRAffinity(SameSite)?")),
    ),
    fixes={"upstream-failed": TURN_ON, "upgrade-headers-missing": TURN_ON},
)
