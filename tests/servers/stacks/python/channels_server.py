"""Django Channels: Origin check via AllowedHostsOriginValidator (ALLOWED_HOSTS), subprotocol
chosen in the consumer's accept(). /ws_deny closes in connect() (a refusal before the 101),
/ws_after accepts then closes with 4003 (a refusal after it). Runs on Daphne (default) or on
uvicorn.

Usage: python channels_server.py PORT [daphne|uvicorn]   (0 = any; prints "PORT <n>" first)
"""

import socket
import sys

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="not-a-secret-test-only",
    # AllowedHostsOriginValidator admits an Origin whose host matches ALLOWED_HOSTS
    # (port ignored); 127.0.0.1 is there for the plain HTTP page's Host header.
    ALLOWED_HOSTS=["allowed.example", "127.0.0.1"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["daphne", "channels"] if "uvicorn" not in sys.argv else ["channels"],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    ASGI_APPLICATION=f"{__name__}.application",
)
django.setup()

from channels.generic.websocket import WebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import ensure_csrf_cookie  # noqa: E402


class Echo(WebsocketConsumer):
    def connect(self):
        self.accept()

    def receive(self, text_data=None, bytes_data=None):
        self.send(text_data=text_data, bytes_data=bytes_data)


class Proto(WebsocketConsumer):
    def connect(self):
        # scope["subprotocols"]: the client's offer; accept(None) answers without the header
        self.accept("chat.v2" if "chat.v2" in self.scope["subprotocols"] else None)


class Deny(WebsocketConsumer):
    def connect(self):
        self.close()  # refuse before accepting (what an auth check in connect() does)


class AcceptThenClose(WebsocketConsumer):
    def connect(self):
        self.accept()
        self.close(code=4003)  # a refusal made after the 101


@ensure_csrf_cookie
def page(request):
    return HttpResponse("channels page\n")


urlpatterns = [path("", page)]

application = ProtocolTypeRouter(
    {
        "http": get_asgi_application(),
        "websocket": AllowedHostsOriginValidator(
            URLRouter(
                [
                    path("ws", Echo.as_asgi()),
                    path("proto", Proto.as_asgi()),
                    path("ws_deny", Deny.as_asgi()),
                    path("ws_after", AcceptThenClose.as_asgi()),
                ]
            )
        ),
    }
)


def main():
    server = sys.argv[2] if len(sys.argv) > 2 else "daphne"
    sock = socket.socket()
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    port = sock.getsockname()[1]
    if server == "uvicorn":
        import uvicorn

        print(f"PORT {port}", flush=True)
        config = uvicorn.Config(application, log_level="warning", lifespan="off")
        uvicorn.Server(config).run(sockets=[sock])
    else:
        from daphne.server import Server

        sock.close()  # Daphne binds by itself (Twisted endpoint string)
        print(f"PORT {port}", flush=True)
        Server(application, endpoints=[f"tcp:port={port}:interface=127.0.0.1"]).run()


if __name__ == "__main__":
    main()
