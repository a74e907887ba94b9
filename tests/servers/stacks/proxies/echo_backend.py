"""A healthy WebSocket echo backend for the reverse-proxy captures.

Usage: python3 echo_backend.py PORT [LOGFILE]

Binds 127.0.0.1, prints ``PORT <n>`` first. Every request it receives (request line and
headers, in order) is appended to LOGFILE, so a capture can show what a proxy forwarded
to the backend (e.g. nginx without ``proxy_set_header Upgrade``). Any path upgrades; no
origin check, no subprotocol, no keepalive pings (so a proxy's idle timeout is what ends
an idle connection).
"""

import asyncio
import sys

from websockets.asyncio.server import serve


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    log_path = sys.argv[2] if len(sys.argv) > 2 else None

    def process_request(connection, request):
        if log_path:
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(f"request for {request.path} (HTTP version not recorded)\n")
                for name, value in request.headers.raw_items():
                    f.write(f"{name}: {value}\n")
                f.write("\n")
        return None

    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    async def run() -> None:
        async with serve(
            echo,
            "127.0.0.1",
            port,
            process_request=process_request,
            ping_interval=None,
            compression=None,
        ) as server:
            bound = server.sockets[0].getsockname()[1]
            print(f"PORT {bound}", flush=True)
            await server.serve_forever()

    asyncio.run(run())


if __name__ == "__main__":
    main()
