"""Phoenix sockets (Elixir): ``check_origin`` on the endpoint's socket."""

from wsinspect.diagnose.stacks._match import header_matches, path_has
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_cookie, site_server

ALLOW_ORIGIN = Snippet(
    "elixir",
    """\
# lib/my_app_web/endpoint.ex
socket "/socket", MyAppWeb.UserSocket,
  websocket: [check_origin: ["{{origin}}"]]
# check_origin: false admits every site.""",
    knob='socket "/socket", MyAppWeb.UserSocket, websocket: [check_origin: ["{{origin}}"]]',
)

STACK = StackRecord(
    name="Phoenix",
    kind="server",
    docs="https://hexdocs.pm/phoenix/Phoenix.Endpoint.html#socket/3",
    language="elixir",
    signals=(
        Signal(
            "request path …/websocket?vsn= (Phoenix socket)",
            0.6,
            path_has(r"/websocket\?(.*&)?vsn="),
        ),
        Signal("Server: Cowboy or Bandit", 0.6, header_matches("Server", r"^(Cowboy|Bandit)")),
        Signal(
            "cache-control: max-age=0, private, must-revalidate in lowercase (Plug)",
            0.4,
            lambda f: ("cache-control", "max-age=0, private, must-revalidate") in f.response,
        ),
    ),
    site_signals=(
        Signal(SITE + "Server: Cowboy or Bandit", 0.45, site_server(r"^(Cowboy|Bandit)")),
        Signal(
            SITE + "a _<app>_key session cookie (Plug.Session)",
            0.4,
            site_cookie(r"_[A-Za-z0-9_]+_key"),
        ),
    ),
    fixes={"origin-rejected": ALLOW_ORIGIN, "cross-origin-accepted": ALLOW_ORIGIN},
)
