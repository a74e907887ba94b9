"""Flask-Sock (simple-websocket) on Werkzeug's server. Flask-Sock has no Origin check: the
idiomatic manual check is a before_request hook that aborts with 403 before the route's
handshake. Subprotocols: app.config["SOCK_SERVER_OPTIONS"] = {"subprotocols": [...]}.

Usage: python flask_sock_server.py PORT   (0 = any; prints "PORT <n>" first)
"""

import sys

from flask import Flask, abort, request
from flask_sock import Sock
from werkzeug.serving import make_server

ALLOWED_ORIGINS = {"http://allowed.example"}

app = Flask(__name__)
app.config["SOCK_SERVER_OPTIONS"] = {"subprotocols": ["chat.v2"]}  # app-wide in Flask-Sock
sock = Sock(app)


@app.before_request
def check_origin():
    if request.path == "/ws" and request.headers.get("Origin") not in ALLOWED_ORIGINS:
        abort(403)


@sock.route("/ws")
def ws(ws):
    while True:
        ws.send(ws.receive())


@sock.route("/proto")
def proto(ws):
    while True:
        ws.send(ws.receive())


@app.route("/")
def page():
    return "flask page\n"


if __name__ == "__main__":
    server = make_server("127.0.0.1", int(sys.argv[1]), app, threaded=True)
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()
