"""The dashboard at scale, headless: ingest, key latency under load, memory, time to first screen.

Targets (dashboard issue): ingest >= 20k handshakes/s; a key press handled in <= 50 ms while
500 handshakes/s keep arriving; resident memory <= 500 MB at 100k handshakes; launch to first
screen <= 0.6 s.

Run: python bench/tui_scale.py [--count N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

import msgspec
from textual import events

from wsinspect.model import Handshake, Headers, Request, Response, Session
from wsinspect.tui.app import WsinspectApp
from wsinspect.tui.widgets.detail import DetailPane
from wsinspect.tui.widgets.handshake_list import HandshakeList

FIRST_SCREEN = """
import sys, time
from wsinspect.capture.proxy import ProxyConfig
from wsinspect.tui.app import LiveOptions, WsinspectApp

class FirstScreen(WsinspectApp):
    def on_mount(self) -> None:
        super().on_mount()
        self.call_after_refresh(self.first_screen)

    def first_screen(self) -> None:
        print(time.time(), flush=True)
        self.exit()

FirstScreen(live=LiveOptions(proxy=ProxyConfig(port=0))).run(headless=True)
"""


def template(number: int) -> Handshake:
    """A realistic refused handshake, diagnosed once; copies differ by id and URL."""
    handshake = Handshake(
        id="template",
        started=time.time(),
        url="ws://127.0.0.1:8080/chat",
        request=Request(
            headers=Headers(
                [
                    ("Host", "127.0.0.1:8080"),
                    ("Origin", "http://localhost:5173"),
                    ("Upgrade", "websocket"),
                    ("Connection", "Upgrade"),
                    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                    ("Sec-WebSocket-Version", "13"),
                ]
            )
        ),
        response=Response(
            403,
            "Forbidden",
            headers=Headers([("Content-Type", "text/plain; charset=utf-8")]),
            body='request Origin "http://localhost:5173" is not authorized for Host "x"\n',
        ),
    )
    return handshake


def copies(base: Handshake, start: int, count: int) -> list[Handshake]:
    return [
        msgspec.structs.replace(base, id=f"h{n}", url=f"ws://127.0.0.1:8080/chat/{n}")
        for n in range(start, start + count)
    ]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def scale(count: int) -> tuple[float, list[float], list[float], float]:
    base = template(0)
    pending = copies(base, 0, count)
    session = Session(created=0.0)
    app = WsinspectApp(session=session)
    async with app.run_test(size=(160, 45), headless=True) as pilot:
        listing = app.query_one(HandshakeList)
        started = time.perf_counter()
        for offset in range(0, count, 5000):
            for handshake in pending[offset : offset + 5000]:
                session.add(handshake)
            await pilot.pause(0)  # let the app pull and draw, as its timer would
        while listing.listed_count < count:
            await pilot.pause(0.01)
        ingest = count / (time.perf_counter() - started)
        await pilot.pause(0.2)

        # Key presses while 500 handshakes/s arrive (50 every 0.1 s).
        stop = asyncio.Event()

        async def arrive() -> None:
            number = count
            while not stop.is_set():
                for handshake in copies(base, number, 50):
                    session.add(handshake)
                number += 50
                await asyncio.sleep(0.1)

        feeder = asyncio.create_task(arrive())
        cursor_ms, detail_ms = [], []
        detail = app.query_one(DetailPane)
        listing.focus()

        async def next_frame() -> None:
            drawn = asyncio.Event()
            app.screen.call_after_refresh(drawn.set)  # the screen's next composed frame
            await drawn.wait()

        for key in ["up", "down"] * 100:
            # Timed inside the app, from the key event to the frame: the pilot's own press
            # waits for idle (~70 ms even on an empty app), which is not the app's cost.
            before = listing.cursor
            began = time.perf_counter()
            app.post_message(events.Key(key, None))
            while listing.cursor == before:
                await asyncio.sleep(0)
            shown_with_cursor = detail.handshake is listing.selected
            await next_frame()
            cursor_ms.append((time.perf_counter() - began) * 1000)
            if not shown_with_cursor:  # the details come in a later frame
                while detail.handshake is not listing.selected:
                    await asyncio.sleep(0)
                await next_frame()
            detail_ms.append((time.perf_counter() - began) * 1000)
            await asyncio.sleep(0.05)
        stop.set()
        await feeder
        memory = rss_mb()
    return ingest, cursor_ms, detail_ms, memory


def first_screen_seconds(runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        began = time.time()
        out = subprocess.run(
            [sys.executable, "-c", FIRST_SCREEN], capture_output=True, text=True, check=True
        ).stdout
        times.append(float(out.split()[0]) - began)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    ingest, cursor_ms, detail_ms, memory = asyncio.run(scale(args.count))
    first = first_screen_seconds()

    def p95(values: list[float]) -> float:
        return sorted(values)[int(len(values) * 0.95) - 1]

    cursor, shown = p95(cursor_ms), p95(detail_ms)
    rows = [
        ("ingest", f"{ingest:,.0f} handshakes/s", ingest >= 20_000, ">= 20,000/s"),
        (
            "key -> cursor drawn",
            f"p95 {cursor:.1f} ms (p50 {statistics.median(cursor_ms):.1f})",
            cursor <= 50,
            "<= 50 ms",
        ),
        (
            "key -> details drawn",
            f"p95 {shown:.1f} ms (p50 {statistics.median(detail_ms):.1f})",
            shown <= 50,
            "<= 50 ms",
        ),
        (f"memory at {args.count:,}", f"{memory:.0f} MB", memory <= 500, "<= 500 MB"),
        ("launch to first screen", f"{first:.2f} s", first <= 0.6, "<= 0.6 s"),
    ]
    for name, value, ok, target in rows:
        print(f"{name:<24} {value:<30} target {target:<12} {'ok' if ok else 'BELOW TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
