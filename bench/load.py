"""Load: many WebSocket connections exchanging messages for a minute through `wsinspect record`.

An echo server in its own process, `wsinspect record` in its own, and the clients here: first a
short phase straight to the server (the baseline latency), then the long phase through the proxy.
Every message carries its connection, its number and a digest of itself; each echo is checked, so
a lost, reordered or altered message is counted. Printed: connections, messages/s, p50/p99
round trip direct and through the proxy (p99 added latency), the proxy's errors, its peak memory
and its growth after warm-up, and whether the session file holds every connection and message.

The issue's load: 500 connections for 60 s (the defaults). `--json` prints one JSON object
instead of the table (the test suite runs a short version).

Run: python bench/load.py [--connections N] [--duration S] [--rate R] [--direct S] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from processes import echo_server, free_port, start, wait_for_port
from websockets.asyncio.client import connect

from wsinspect.sessions import load


@dataclass
class Phase:
    """What the clients saw in one phase."""

    connections: int = 0
    sent: int = 0
    echoed: int = 0
    lost: int = 0
    altered: int = 0
    failed_connections: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)
    steady: list[float] = field(default_factory=list, repr=False)  # after the connection storm
    settled: float = 0.0  # when the steady part begins (monotonic)

    def percentile(self, fraction: float, steady: bool = False) -> float:
        latencies = self.steady if steady else self.latencies
        if not latencies:
            return float("nan")
        ordered = sorted(latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def message(connection: int, number: int) -> str:
    body = f"{connection}:{number}:" + "x" * (number % 200)
    return body + ":" + hashlib.sha256(body.encode()).hexdigest()[:16]


async def client(url: str, proxy: str | None, number: int, phase: Phase, until: float, rate: float):
    """One connection: a message every 1/rate s, each echo checked and timed."""
    try:
        async with connect(url, proxy=proxy, open_timeout=30, max_queue=None) as ws:
            phase.connections += 1
            count = 0
            interval = 1 / rate
            next_send = time.monotonic() + (number % 100) / 100 * interval  # spread the starts
            while time.monotonic() < until:
                await asyncio.sleep(max(0.0, next_send - time.monotonic()))
                next_send += interval
                expected = message(number, count)
                began = time.perf_counter()
                await ws.send(expected)
                phase.sent += 1
                try:
                    echo = await asyncio.wait_for(ws.recv(), 10)
                except TimeoutError:
                    phase.lost += 1
                    break
                took = time.perf_counter() - began
                phase.latencies.append(took)
                if time.monotonic() > phase.settled:
                    phase.steady.append(took)
                phase.echoed += 1
                if echo != expected:
                    phase.altered += 1
                count += 1
    except Exception:  # whatever broke the connection, it is counted as failed
        phase.failed_connections += 1


async def run_phase(url: str, proxy: str | None, connections: int, seconds: float, rate: float):
    phase = Phase()
    began = time.monotonic()
    until = began + seconds
    phase.settled = began + min(5.0, seconds / 10)
    await asyncio.gather(*(client(url, proxy, n, phase, until, rate) for n in range(connections)))
    phase.seconds = time.monotonic() - began
    return phase


def rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(found.group(1)) / 1024 if found else float("nan")


class MemoryWatch:
    """Samples a process's resident memory every half second."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        began = time.monotonic()
        while not self._stop.wait(0.5):
            self.samples.append((time.monotonic() - began, rss_mb(self.pid)))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> float:
        return max((mb for _, mb in self.samples), default=float("nan"))

    def growth_after_warmup(self) -> float:
        """MB gained from a quarter of the run to its end: flat memory is close to 0."""
        if len(self.samples) < 4:
            return float("nan")
        quarter = self.samples[len(self.samples) // 4][1]
        last = statistics.mean(mb for _, mb in self.samples[-3:])
        return last - quarter


async def peer_phase(url: str, args: argparse.Namespace) -> Phase:
    """The same load through plain mitmdump relaying raw TCP after the upgrade: the relay
    wsinspect builds on, without our recorder, so the difference is our own cost."""
    port = free_port()
    mitmdump = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("mitmdump")),
            "-q",
            "--listen-host",
            "127.0.0.1",
            "-p",
            str(port),
            "--set",
            "websocket=false",
            "--set",
            "connection_strategy=lazy",
        ]
    )
    try:
        wait_for_port(port)
        return await run_phase(
            url, f"http://127.0.0.1:{port}", args.connections, args.duration, args.rate
        )
    finally:
        mitmdump.terminate()
        mitmdump.wait(30)


async def main_async(args: argparse.Namespace) -> dict:
    server, port, _ = start([sys.executable, "-c", echo_server("max_queue=None")], r"(\d+)", False)
    folder = Path(tempfile.mkdtemp(prefix="wsinspect-load-"))
    output = folder / "load.json"
    record, proxy_port, errors = start(
        [
            *(sys.executable, "-m", "wsinspect", "record", "-p", "0", "-o", str(output)),
            *("--no-redact", "--save-every", str(args.save_every)),
            *("--keep-messages", str(args.keep_messages)),
        ],
        r"listening on [\d.]+:(\d+)",
        True,
    )
    url = f"ws://127.0.0.1:{port}/load"
    peer = None
    try:
        direct = await run_phase(url, None, args.connections, args.direct, args.rate)
        memory = MemoryWatch(record.pid)
        proxied = await run_phase(
            url, f"http://127.0.0.1:{proxy_port}", args.connections, args.duration, args.rate
        )
        memory.stop()
        record.send_signal(signal.SIGINT)
        record.wait(60)
        if args.peer:
            peer = await peer_phase(url, args)
    finally:
        record.send_signal(signal.SIGINT)
        record.wait(60)
        server.kill()
        server.wait()
    session = load(output)
    recorded = sum(h.websocket.counts.client_messages for h in session if h.websocket is not None)
    problems = [line.strip() for line in errors if line.startswith("mitmproxy:")]
    result = {
        "connections": args.connections,
        "duration_s": round(proxied.seconds, 1),
        "messages_per_s": round(2 * proxied.echoed / proxied.seconds),
        "direct_p50_ms": round(direct.percentile(0.5), 2),
        "direct_p99_ms": round(direct.percentile(0.99), 2),
        "proxied_p50_ms": round(proxied.percentile(0.5), 2),
        "proxied_p99_ms": round(proxied.percentile(0.99), 2),
        "added_p99_ms": round(proxied.percentile(0.99) - direct.percentile(0.99), 2),
        "proxied_p99_after_connecting_ms": round(proxied.percentile(0.99, steady=True), 2),
        **(
            {}
            if peer is None
            else {
                "raw_relay_messages_per_s": round(2 * peer.echoed / peer.seconds),
                "raw_relay_p50_ms": round(peer.percentile(0.5), 2),
                "raw_relay_p99_ms": round(peer.percentile(0.99), 2),
            }
        ),
        "peak_rss_mb": round(memory.peak, 1),
        "rss_growth_after_warmup_mb": round(memory.growth_after_warmup(), 1),
        "sent": proxied.sent,
        "lost": proxied.lost + (proxied.sent - proxied.echoed - proxied.lost),
        "altered": proxied.altered,
        "failed_connections": proxied.failed_connections + direct.failed_connections,
        "proxy_errors": len(problems),
        "recorded_handshakes": len(session),
        "recorded_client_messages": recorded,
        "record_exit": record.returncode,
    }
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--duration", type=float, default=60.0, help="through the proxy, s")
    parser.add_argument("--direct", type=float, default=10.0, help="the baseline phase, s")
    parser.add_argument("--rate", type=float, default=2.0, help="messages/s per connection")
    parser.add_argument(
        "--save-every", type=float, default=5.0, help="record's autosave interval, s"
    )
    parser.add_argument(
        "--keep-messages",
        type=int,
        default=200,
        help="record's message window per connection (memory grows until the windows are full)",
    )
    parser.add_argument(
        "--peer", action="store_true", help="also run the load through plain mitmdump (raw relay)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    os.environ.pop("http_proxy", None)
    result = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(result))
        return 0
    width = max(map(len, result))
    for name, value in result.items():
        print(f"{name:<{width}}  {value}")
    intact = (
        result["lost"] == 0
        and result["altered"] == 0
        and result["failed_connections"] == 0
        and result["proxy_errors"] == 0
        and result["recorded_handshakes"] == result["connections"]
        and result["recorded_client_messages"] == result["sent"]
    )
    print("every message arrived unchanged and was recorded" if intact else "PROBLEMS: see above")
    return 0 if intact else 1


if __name__ == "__main__":
    sys.exit(main())
