"""FastAPI (Starlette) on uvicorn. Neither has an Origin knob for WebSockets (CORSMiddleware
handles HTTP only, see /ws_cors): the idiomatic check compares websocket.headers["origin"]
before accept() and raises WebSocketException(code=1008), which uvicorn turns into a 403.
/ws_denial refuses with Starlette's send_denial_response (a 403 with a body); /ws_after accepts,
then closes with 1008 (a refusal after the 101). Subprotocol:
websocket.accept(subprotocol=...).

Usage: python fastapi_server.py PORT [auto|websockets|websockets-sansio|wsproto]
       (0 = any; prints "PORT <n>" first; the second argument is uvicorn's --ws)
"""

import socket
import sys

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketException, status
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import PlainTextResponse

ALLOWED_ORIGINS = {"http://allowed.example"}

app = FastAPI()
app.add_middleware(CORSMiddleware, allow_origins=list(ALLOWED_ORIGINS))  # HTTP only


async def echo(websocket: WebSocket):
    while True:
        await websocket.send_text(await websocket.receive_text())


@app.websocket("/ws")
async def ws(websocket: WebSocket):
    if websocket.headers.get("origin") not in ALLOWED_ORIGINS:
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION)
    await websocket.accept()
    await echo(websocket)


@app.websocket("/ws_denial")
async def ws_denial(websocket: WebSocket):
    if websocket.headers.get("origin") not in ALLOWED_ORIGINS:
        await websocket.send_denial_response(
            PlainTextResponse("origin not allowed", status_code=403)
        )
        return
    await websocket.accept()
    await echo(websocket)


@app.websocket("/ws_after")
async def ws_after(websocket: WebSocket):
    await websocket.accept()  # a refusal made after the 101: accept, then close 1008 with a reason
    if websocket.headers.get("origin") not in ALLOWED_ORIGINS:
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="origin not allowed")
        return
    await echo(websocket)


@app.websocket("/ws_cors")
async def ws_cors(websocket: WebSocket):
    await websocket.accept()  # no manual check: CORSMiddleware does not apply here
    await echo(websocket)


@app.websocket("/proto")
async def proto(websocket: WebSocket):
    await websocket.accept(
        subprotocol="chat.v2" if "chat.v2" in websocket.scope["subprotocols"] else None
    )
    await echo(websocket)


@app.get("/")
async def page():
    return {"page": "fastapi"}


if __name__ == "__main__":
    sock = socket.socket()
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    ws_impl = sys.argv[2] if len(sys.argv) > 2 else "auto"
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws=ws_impl)
    uvicorn.Server(config).run(sockets=[sock])
