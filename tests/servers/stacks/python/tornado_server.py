"""Tornado: origin check via WebSocketHandler.check_origin, subprotocol via select_subprotocol.

Usage: python tornado_server.py PORT   (0 = any; prints "PORT <n>" first)
"""

import asyncio
import sys
from urllib.parse import urlparse

import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket

ALLOWED_ORIGINS = {"http://allowed.example"}


class WS(tornado.websocket.WebSocketHandler):
    def check_origin(self, origin):
        return origin in ALLOWED_ORIGINS  # full origin, e.g. "http://allowed.example"

    def on_message(self, message):
        self.write_message(message)


class Proto(tornado.websocket.WebSocketHandler):
    def check_origin(self, origin):
        return urlparse(origin).netloc == "allowed.example"

    def select_subprotocol(self, subprotocols):
        return "chat.v2" if "chat.v2" in subprotocols else None

    def on_message(self, message):
        self.write_message(message)


class After(tornado.websocket.WebSocketHandler):
    """Accepts any origin, then closes at once with 1008: a refusal made after the 101."""

    def check_origin(self, origin):
        return True

    def open(self):
        self.close(1008, "origin not allowed")


class Page(tornado.web.RequestHandler):
    def get(self):
        self.write("tornado page\n")


async def main():
    app = tornado.web.Application(
        [(r"/ws", WS), (r"/proto", Proto), (r"/ws_after", After), (r"/", Page)]
    )
    sockets = tornado.netutil.bind_sockets(int(sys.argv[1]), "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    print(f"PORT {sockets[0].getsockname()[1]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
