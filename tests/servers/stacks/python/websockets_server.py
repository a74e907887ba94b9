"""The Python `websockets` library: Origin check via serve(..., origins=[...]), subprotocols via
serve(..., subprotocols=[...]) (both server-wide), routing in process_request.
Mode "new" (websockets.asyncio.server) sets no subprotocols: with subprotocols=[...] the new
server refuses a client that offers none (400 "missing subprotocol"), so mode "new-proto" is the
same server with subprotocols=["chat.v2"]. Mode "legacy" runs the deprecated
websockets.legacy.server (what uvicorn --ws websockets uses), with subprotocols=["chat.v2"].

Usage: python websockets_server.py PORT [new|new-proto|legacy]   (0 = any; prints "PORT <n>" first)
"""

import asyncio
import http
import sys
import warnings

ORIGINS = ["http://allowed.example"]  # full origins; add None to admit a missing Origin
SUBPROTOCOLS = ["chat.v2"]
PATHS = {"/ws", "/proto"}


async def main_new(port, subprotocols):
    from websockets.asyncio.server import serve

    async def handler(ws):
        async for msg in ws:
            await ws.send(msg)

    def process_request(connection, request):
        if request.path not in PATHS:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Not Found\n")
        return None

    async with serve(
        handler,
        "127.0.0.1",
        port,
        origins=ORIGINS,
        subprotocols=subprotocols,
        process_request=process_request,
    ) as server:
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()


async def main_legacy(port):
    warnings.simplefilter("ignore", DeprecationWarning)
    from websockets.legacy.server import serve

    async def handler(ws, path=None):
        async for msg in ws:
            await ws.send(msg)

    async def process_request(path, headers):
        if path not in PATHS:
            return http.HTTPStatus.NOT_FOUND, [], b"Not Found\n"
        return None

    server = await serve(
        handler,
        "127.0.0.1",
        port,
        origins=ORIGINS,
        subprotocols=SUBPROTOCOLS,
        process_request=process_request,
    )
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    mode = sys.argv[2] if len(sys.argv) > 2 else "new"
    port = int(sys.argv[1])
    if mode == "legacy":
        asyncio.run(main_legacy(port))
    else:
        asyncio.run(main_new(port, SUBPROTOCOLS if mode == "new-proto" else None))
