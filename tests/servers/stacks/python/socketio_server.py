"""python-socketio / python-engineio: Origin check via cors_allowed_origins (it governs the
WebSocket transport too). Engine.IO has no subprotocol knob. Runs as an ASGI app on uvicorn
(default), as an ASGI app on Hypercorn, or attached to aiohttp.

Usage: python socketio_server.py PORT [asgi|hypercorn|aiohttp]   (0 = any; prints "PORT <n>" first)
"""

import asyncio
import socket
import sys

import socketio

MODE = sys.argv[2] if len(sys.argv) > 2 else "asgi"
sio = socketio.AsyncServer(
    async_mode="aiohttp" if MODE == "aiohttp" else "asgi",
    cors_allowed_origins=["http://allowed.example"],  # full origins; [] disables the check
)


@sio.event
async def message(sid, data):
    await sio.send(data, to=sid)


async def page_app(scope, receive, send):
    """A plain ASGI page for / (what other requests to the same host look like)."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"socketio page\n"})


def main():
    sock = socket.socket()
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    port = sock.getsockname()[1]
    if MODE == "aiohttp":
        from aiohttp import web

        async def page(request):
            return web.Response(text="socketio page\n")

        app = web.Application()
        sio.attach(app)  # serves /socket.io/
        app.router.add_get("/", page)
        print(f"PORT {port}", flush=True)
        web.run_app(app, sock=sock, print=None)
    elif MODE == "hypercorn":
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        sock.listen(100)
        config = Config()
        config.bind = [f"fd://{sock.fileno()}"]
        print(f"PORT {port}", flush=True)
        asyncio.run(serve(socketio.ASGIApp(sio, other_asgi_app=page_app), config))
    else:
        import uvicorn

        app = socketio.ASGIApp(sio, other_asgi_app=page_app)  # serves /socket.io/
        print(f"PORT {port}", flush=True)
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    main()
