"""A Starlette app for wsinspect's tests, run by a real uvicorn.

/guarded refuses every Origin but ALLOWED before accept(); /echo accepts without selecting a
subprotocol (the classic Chrome failure when the client offers one).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

ALLOWED = "http://localhost:3000"


async def guarded(websocket: WebSocket) -> None:
    if websocket.headers.get("origin") != ALLOWED:
        await websocket.close(code=1008)
        return
    await websocket.accept()
    await websocket.close()


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(message)


app = Starlette(routes=[WebSocketRoute("/guarded", guarded), WebSocketRoute("/echo", echo)])
