"""aiohttp: no built-in Origin check; the idiomatic manual check raises HTTPForbidden
before WebSocketResponse.prepare(). Subprotocol: WebSocketResponse(protocols=...).

Usage: python aiohttp_server.py PORT   (0 = any; prints "PORT <n>" first)
"""

import asyncio
import sys

from aiohttp import web

ALLOWED_ORIGINS = {"http://allowed.example"}


async def ws_handler(request: web.Request) -> web.WebSocketResponse:
    if request.headers.get("Origin") not in ALLOWED_ORIGINS:
        raise web.HTTPForbidden(text="origin not allowed")
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_str(msg.data)
    return ws


async def proto_handler(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("chat.v2",))
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_str(msg.data)
    return ws


async def page(request: web.Request) -> web.Response:
    return web.Response(text="aiohttp page\n")


async def main() -> None:
    app = web.Application()
    app.add_routes(
        [web.get("/ws", ws_handler), web.get("/proto", proto_handler), web.get("/", page)]
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", int(sys.argv[1]))
    await site.start()
    print(f"PORT {runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
