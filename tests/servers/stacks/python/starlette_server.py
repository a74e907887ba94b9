"""Starlette on uvicorn (FastAPI's WebSocket class is Starlette's). No Origin knob for
WebSockets: compare websocket.headers["origin"] before accept() and close() (uvicorn answers
403). Subprotocol: websocket.accept(subprotocol=...).

Usage: python starlette_server.py PORT   (0 = any; prints "PORT <n>" first)
"""

import socket
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

ALLOWED_ORIGINS = {"http://allowed.example"}


async def echo(websocket: WebSocket):
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


async def ws(websocket: WebSocket):
    if websocket.headers.get("origin") not in ALLOWED_ORIGINS:
        await websocket.close(code=1008)
        return
    await websocket.accept()
    await echo(websocket)


async def proto(websocket: WebSocket):
    await websocket.accept(
        subprotocol="chat.v2" if "chat.v2" in websocket.scope["subprotocols"] else None
    )
    await echo(websocket)


async def page(request):
    return PlainTextResponse("starlette page\n")


app = Starlette(
    routes=[WebSocketRoute("/ws", ws), WebSocketRoute("/proto", proto), Route("/", page)]
)

if __name__ == "__main__":
    sock = socket.socket()
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off")).run(sockets=[sock])
