"""Does anything the dashboard does block the proxy? Echo latency through the live proxy while
the dashboard saves, filters, opens tabs, moves the cursor and toggles redaction.

The real dashboard runs headless (``App.run_test``) with its proxy (in a process of its own, as
``watch`` runs it), preloaded with a session of ``--handshakes`` x ``--messages`` that carry
cookies and tokens (so that redaction has work). A child process runs a WebSocket echo server
and a client that, through the proxy, sends a small message every 5 ms and times each echo. For
each action: the worst and the 99th percentile echo, against the target (issue 14): the relay
never held up > 20 ms. Beside them, for information, how late a 1 ms sleep on the dashboard's
own loop wakes (how responsive the screen is; before issue 14 this was the proxy's loop too).

Run: PYTHONPATH=. python bench/blocking.py [--handshakes 5000] [--messages 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

TARGET_MS = 20.0
SEND_EVERY = 0.005  # seconds between the client's messages
PROBE_SLEEP = 0.001  # seconds the loop-lag probe asks to sleep
KEY_EVERY = 0.1  # seconds between key presses
CHARACTERS = {"slash": "/", "escape": None, "enter": "\r", "up": None, "down": None}


# -- the session the dashboard starts with -------------------------------------------------------


def session_document(handshakes: int, messages: int) -> dict[str, object]:
    """A native session file (version 1, which every version reads) of upgraded handshakes whose
    URL, headers and some messages carry secrets."""
    return {
        "format": "wsinspect-session",
        "version": 1,
        "created": 1_700_000_000.0,
        "proxy": {},
        "handshakes": [_handshake(n, messages) for n in range(handshakes)],
    }


def _handshake(n: int, messages: int) -> dict[str, object]:
    started = 1_700_000_000.0 + n
    token = f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLXtuf{n}Q.c2lnbmF0dXJl{n:06d}"
    request_headers = [
        ["Host", "127.0.0.1:8080"],
        ["Origin", "http://localhost:5173"],
        ["Upgrade", "websocket"],
        ["Connection", "Upgrade"],
        ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="],
        ["Sec-WebSocket-Version", "13"],
        ["Sec-WebSocket-Protocol", "graphql-transport-ws"],
        ["Cookie", f"session=s3cr3t-session-{n:06d}; theme=dark"],
        ["Authorization", f"Bearer {token}"],
    ]
    response_headers = [
        ["Upgrade", "websocket"],
        ["Connection", "Upgrade"],
        ["Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="],
        ["Sec-WebSocket-Protocol", "graphql-transport-ws"],
        ["Set-Cookie", f"session=s3cr3t-session-{n:06d}; HttpOnly"],
    ]
    return {
        "id": f"h{n}",
        "started": started,
        "answered": started + 0.002,
        "url": f"ws://127.0.0.1:8080/graphql?room={n}&access_token=tok-{n:06d}-abcdef",
        "client": {"address": f"127.0.0.1:{40000 + n % 20000}"},
        "request": {"method": "GET", "http_version": "HTTP/1.1", "headers": request_headers},
        "response": {
            "status": 101,
            "reason": "Switching Protocols",
            "http_version": "HTTP/1.1",
            "headers": response_headers,
            "body": "",
            "body_truncated": False,
        },
        "error": None,
        "websocket": {
            "subprotocol": "graphql-transport-ws",
            "extensions": [],
            "messages": [_message(n, k, started, token) for k in range(messages)],
            "messages_dropped": 0,
            "counts": {
                "client_messages": messages - messages // 2,
                "server_messages": messages // 2,
                "client_bytes": 4000,
                "server_bytes": 4000,
            },
            "close": {"code": 1000, "reason": "bye", "by": "client", "time": started + 60},
        },
        "verdict": "ok",
        "stack": None,
        "findings": [],
    }


def _message(n: int, k: int, started: float, token: str) -> dict[str, object]:
    """One message in ten carries a secret: a token under a JSON key, or the cookie echoed."""
    if k % 10 == 0:
        text = f'{{"type":"connection_init","payload":{{"authorization":"Bearer {token}"}}}}'
    elif k % 10 == 5:
        text = f'{{"type":"debug","echo":"session=s3cr3t-session-{n:06d}"}}'
    else:
        text = f'{{"id":"{k}","type":"next","payload":{{"data":{{"n":{n},"k":{k}}}}}}}'
    return {
        "from": "client" if k % 2 == 0 else "server",
        "time": started + k * 0.01,
        "opcode": 1,
        "length": len(text),
        "preview": text,
    }


def preloaded(handshakes: int, messages: int, folder: Path):  # -> Session
    from wsinspect.sessions import load

    path = folder / "preloaded.json"
    path.write_text(json.dumps(session_document(handshakes, messages)))
    session = load(path)
    for handshake in session:  # as captured: every message already an object
        if handshake.websocket is not None:
            list(handshake.websocket.messages)
    return session


# -- the child: an echo server, and a client timing echoes through the proxy --------------------


async def relay_client(proxy_port: int) -> None:
    """Print "ready", time echoes until stdin closes, then print them as JSON. Keepalive pings
    are off: a proxy blocked for 20 s would otherwise close the connection (it did, saving
    5,000 handshakes before issue 14), and the bench would measure nothing more."""
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    async def echo(ws) -> None:  # type: ignore[no-untyped-def]
        async for message in ws:
            await ws.send(message)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    threading.Thread(
        target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stop.set)), daemon=True
    ).start()
    sent: dict[int, float] = {}
    samples: list[tuple[float, float]] = []  # (sent, as time.monotonic; latency in s)
    closed = ""
    async with serve(echo, "127.0.0.1", 0, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        url, proxy = f"ws://127.0.0.1:{port}/echo", f"http://127.0.0.1:{proxy_port}"
        async with connect(url, proxy=proxy, ping_interval=None) as ws:

            async def receive() -> None:
                async for message in ws:
                    number = int(message)
                    samples.append((sent[number], time.monotonic() - sent[number]))

            receiver = asyncio.create_task(receive())
            print("ready", flush=True)
            number, next_send = 0, time.monotonic()
            try:
                while not stop.is_set():
                    sent[number] = time.monotonic()
                    await ws.send(str(number))
                    number += 1
                    next_send += SEND_EVERY
                    await asyncio.sleep(max(0.0, next_send - time.monotonic()))
                await asyncio.sleep(0.5)  # the last echoes
            except ConnectionClosed as e:
                closed = str(e)
                await stop.wait()
            receiver.cancel()
    print(json.dumps({"samples": samples, "lost": len(sent) - len(samples), "closed": closed}))


# -- the dashboard, driven -----------------------------------------------------------------------


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the dashboard did not get there in time")
        await asyncio.sleep(0.01)


@dataclass
class Window:
    name: str
    began: float
    ended: float = 0.0


@dataclass
class Probe:
    """Sleeps 1 ms over and over on the loop it runs on; how late each wake-up was."""

    samples: list[tuple[float, float]] = field(default_factory=list)

    async def run(self) -> None:
        while True:
            began = time.monotonic()
            await asyncio.sleep(PROBE_SLEEP)
            self.samples.append((began, time.monotonic() - began - PROBE_SLEEP))


async def drive(
    handshakes: int, messages: int, idle: float, only: list[str]
) -> tuple[list[Window], list, list]:
    from textual import events
    from textual.widgets import Input

    from wsinspect.capture.proxy import ProxyConfig
    from wsinspect.tui.app import LiveOptions, WsinspectApp

    folder = Path(tempfile.mkdtemp(prefix="wsinspect-blocking-"))
    began = time.perf_counter()
    session = preloaded(handshakes, messages, folder)
    print(
        f"{len(session):,} handshakes x {messages} messages loaded in "
        f"{time.perf_counter() - began:.1f} s",
        flush=True,
    )
    app = WsinspectApp(session=session, live=LiveOptions(proxy=ProxyConfig(port=0)))
    windows: list[Window] = []
    probe = Probe()
    async with app.run_test(size=(160, 45), notifications=True):
        await until(lambda: app.proxy is not None, timeout=30)
        await until(lambda: app.handshake_list.listed_count >= handshakes, timeout=60)
        capture = app.proxy
        assert capture is not None  # waited for above
        child = subprocess.Popen(
            [sys.executable, __file__, "--relay-client", str(capture.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None and child.stdin is not None
        ready = await asyncio.to_thread(child.stdout.readline)
        assert ready.strip() == "ready", ready
        prober = asyncio.create_task(probe.run())
        await asyncio.sleep(1.0)  # warm up

        async def timed(name: str, action: Callable[[], Awaitable[None]]) -> None:
            window = Window(name, time.monotonic())
            await action()
            window.ended = time.monotonic()
            windows.append(window)
            print(f"  {name}: {window.ended - window.began:.2f} s", flush=True)
            await asyncio.sleep(0.5)  # apart: a late echo of one is not counted in the next

        async def baseline() -> None:
            await asyncio.sleep(idle)

        async def press(*keys: str) -> None:
            """As a person types, ~10 keys a second. (``pilot.press`` waits for the process to
            go idle after each key, which it never does with echoes every 5 ms.)"""
            for key in keys:
                app.post_message(events.Key(key, CHARACTERS.get(key, key)))
                await asyncio.sleep(KEY_EVERY)

        def save(extension: str) -> Callable[[], Awaitable[None]]:
            async def action() -> None:
                target = folder / f"saved{extension}"
                await press("s")
                await until(lambda: app.screen.query("#save-path"))
                app.screen.query_one("#save-path", Input).value = str(target)
                await press("enter")
                await until(lambda: target.exists(), timeout=120)  # renamed into place: written

            return action

        async def type_filter() -> None:
            await press("slash", *"cookie", "escape")
            app.query_one("#filter", Input).value = ""
            await asyncio.sleep(KEY_EVERY)

        async def failures_only() -> None:
            await press("x", "x")

        async def tabs() -> None:
            await press("1", "2", "3", "4", "5", "1")

        def cursor(tab: str) -> Callable[[], Awaitable[None]]:
            async def action() -> None:
                await press(tab, *["up"] * 10, *["down"] * 10)

            return action

        async def redaction() -> None:
            await press("r", "r")

        actions = {
            "save": [(f"save {ext}", save(ext)) for ext in (".json", ".har", ".md")],
            "filter": [("type a filter", type_filter)],
            "x": [("x twice", failures_only)],
            "tabs": [("tabs 1-5", tabs)],
            "cursor": [
                ("cursor, Findings tab", cursor("1")),
                ("cursor, Messages tab", cursor("4")),
            ],
            "r": [("r twice", redaction)],
        }
        await timed("baseline (idle)", baseline)
        for name in only or actions:
            for title, action in actions[name]:
                await timed(title, action)
        await timed("baseline (idle, after)", baseline)

        prober.cancel()
        out, _ = await asyncio.to_thread(child.communicate, "")
        await app.stop_proxy()
    result = json.loads(out.strip().splitlines()[-1])
    print(
        f"echoes lost: {result['lost']}"
        + (f"; closed: {result['closed']}" * bool(result["closed"]))
    )
    return windows, result["samples"], probe.samples


# -- the figures ---------------------------------------------------------------------------------


def _within(samples: list, window: Window) -> list[float]:
    return [value * 1000 for at, value in samples if window.began <= at <= window.ended]


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def report(windows: list[Window], echoes: list, lags: list) -> bool:
    print(
        f"\n{'action':<24} {'s':>6} {'echoes':>7} {'echo max':>9} {'echo p99':>9} "
        f"{'ui lag max':>11} {'ui lag p99':>11}   (ms; target: echo <= {TARGET_MS:g} ms)"
    )
    passed = True
    for window in windows:
        echo, lag = _within(echoes, window), _within(lags, window) or [0.0]
        if not echo:
            print(f"{window.name:<24} no echoes")
            passed = False
            continue
        ok = max(echo) <= TARGET_MS
        passed &= ok
        print(
            f"{window.name:<24} {window.ended - window.began:>6.2f} {len(echo):>7} "
            f"{max(echo):>9.1f} {_p99(echo):>9.1f} {max(lag):>11.1f} {_p99(lag):>11.1f}   "
            f"{'PASS' if ok else 'FAIL'}"
        )
    print("\nPASS" if passed else "\nFAIL: an echo through the proxy took longer than the target")
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--handshakes", type=int, default=5_000)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of baseline")
    parser.add_argument(
        "--only", default="", help="comma-separated: save,filter,x,tabs,cursor,r (default: all)"
    )
    parser.add_argument("--relay-client", type=int, help=argparse.SUPPRESS)  # the child
    args = parser.parse_args()
    if args.relay_client is not None:
        asyncio.run(relay_client(args.relay_client))
        return 0
    only = [name for name in args.only.split(",") if name]
    figures = asyncio.run(drive(args.handshakes, args.messages, args.idle, only))
    return 0 if report(*figures) else 1


if __name__ == "__main__":
    sys.exit(main())
