"""Handshakes/s and messages/s: direct, through `wsinspect record`, and through plain `mitmdump`.

One echo server in its own process. Targets: direct; `wsinspect record`; `watch`, the
dashboard's proxy (its own process, feeding a capture in a third: `Capture.separate` without the
screen); `mitmdump -q` (its WebSocket layer); and `raw-relay`, mitmdump with `websocket=false` —
the raw TCP relay wsinspect builds on, without our frame sniffer, so wsinspect / raw-relay is the
cost of our own code.

Each round gives every target a short slice in turn, and the totals are divided by the time
spent: a busy shared machine drifts, and interleaving makes that drift hit every target alike.
The targets the capture-core issue sets:

    handshakes/s   wsinspect >= 0.95 x mitmdump
    messages/s     wsinspect >= 10 x mitmdump and >= 0.75 x direct

Handshakes are sequential connect + close. Messages are 64-byte echoes with up to --window in
flight on one connection (default 1000, a streaming load: TCP carries many frames per read), each
counted once per direction. With --window 1 (lockstep) every proxy is bound by mitmproxy's
per-read latency instead.

Its Python client tops out near 20k messages/s, below mitmproxy's raw relay: for the relay's
ceiling and issue 16's targets use bench/ceiling.py (a compiled Go client and echo server).

Run: python bench/throughput.py [--rounds N] [--seconds S] [--window N]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from subprocess import DEVNULL, Popen

from processes import echo_server, free_port, start, wait_for_port
from websockets.asyncio.client import connect

PAYLOAD = b"x" * 64


async def handshakes(url: str, proxy: str | None, seconds: float) -> tuple[int, float]:
    """Sequential connect + close for ``seconds``: (handshakes done, time taken)."""
    done = 0
    start_time = time.perf_counter()
    while time.perf_counter() - start_time < seconds:
        async with connect(url, proxy=proxy, compression=None):
            pass
        done += 1
    return done, time.perf_counter() - start_time


async def messages(url: str, proxy: str | None, seconds: float, window: int) -> tuple[int, float]:
    """64-byte echoes, ``window`` in flight, for ``seconds``: (messages both ways, time taken)."""
    async with connect(url, proxy=proxy, compression=None) as ws:
        done = 0
        start_time = time.perf_counter()
        while time.perf_counter() - start_time < seconds:
            for _ in range(window):
                await ws.send(PAYLOAD)
            for _ in range(window):
                await ws.recv()
            done += 2 * window
        return done, time.perf_counter() - start_time


async def watch_proxy() -> None:
    """The dashboard's capture without the screen, until terminated."""
    from wsinspect.capture.proxy import ProxyConfig
    from wsinspect.capture.service import Capture

    async with Capture.separate(ProxyConfig(port=0)) as capture:
        print(f"listening on 127.0.0.1:{capture.port}", file=sys.stderr, flush=True)
        await asyncio.Event().wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=0.5, help="per target per round")
    parser.add_argument("--window", type=int, default=1000, help="messages in flight")
    parser.add_argument("--watch-proxy", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.watch_proxy:
        asyncio.run(watch_proxy())
        return 0

    mitmdump = shutil.which("mitmdump")
    if mitmdump is None:
        raise SystemExit("mitmdump not found: pip install mitmproxy")

    output = Path(tempfile.mkdtemp(prefix="wsinspect-bench-")) / "bench.json"
    echo, echo_port, _ = start(
        [sys.executable, "-c", echo_server("compression=None")], r"^(\d+)", False
    )
    record, record_port, _ = start(
        [sys.executable, "-m", "wsinspect", "record", "-p", "0", "-o", str(output)],
        r"listening on [\d.]+:(\d+)",
        True,
    )
    watch, watch_port, _ = start(
        [sys.executable, __file__, "--watch-proxy"], r"listening on [\d.]+:(\d+)", True
    )
    dump_port, relay_port = free_port(), free_port()
    dumps = [
        Popen(
            [mitmdump, "-q", "--listen-host", "127.0.0.1", "-p", str(port), *extra],
            stdout=DEVNULL,
            stderr=DEVNULL,
        )
        for port, extra in ((dump_port, []), (relay_port, ["--set", "websocket=false"]))
    ]
    for port in (dump_port, relay_port):
        wait_for_port(port)  # mitmdump says nothing when it is ready under -q

    url = f"ws://127.0.0.1:{echo_port}/"
    targets = {
        "direct": None,
        "wsinspect": f"http://127.0.0.1:{record_port}",
        "watch": f"http://127.0.0.1:{watch_port}",
        "mitmdump": f"http://127.0.0.1:{dump_port}",
        "raw-relay": f"http://127.0.0.1:{relay_port}",
    }
    done = {name: {"handshakes": 0.0, "messages": 0.0} for name in targets}
    spent = {name: {"handshakes": 0.0, "messages": 0.0} for name in targets}
    try:
        for round_number in range(1, args.rounds + 1):
            for name, proxy in targets.items():
                for kind, (count, elapsed) in (
                    ("handshakes", asyncio.run(handshakes(url, proxy, args.seconds))),
                    ("messages", asyncio.run(messages(url, proxy, args.seconds, args.window))),
                ):
                    done[name][kind] += count
                    spent[name][kind] += elapsed
            print(f"round {round_number}/{args.rounds}", file=sys.stderr, flush=True)
    finally:
        record.send_signal(signal.SIGINT)
        for process in (*dumps, echo, watch):
            process.terminate()
        record.wait(30)

    hs = {name: done[name]["handshakes"] / spent[name]["handshakes"] for name in targets}
    ms = {name: done[name]["messages"] / spent[name]["messages"] for name in targets}
    total = args.rounds * args.seconds
    print(f"{'':<10} {'handshakes/s':>14} {'messages/s':>12}   ({total:.0f} s each, interleaved)")
    for name in targets:
        print(f"{name:<10} {hs[name]:14.0f} {ms[name]:12.0f}")
    print()
    checks = [
        ("handshakes/s wsinspect / mitmdump ", hs["wsinspect"] / hs["mitmdump"], 0.95),
        ("messages/s   wsinspect / mitmdump ", ms["wsinspect"] / ms["mitmdump"], 10.0),
        ("messages/s   wsinspect / direct   ", ms["wsinspect"] / ms["direct"], 0.75),
    ]
    for label, ratio, target in checks:
        verdict = "ok" if ratio >= target else "BELOW TARGET"
        print(f"{label} = {ratio:6.2f}  (target >= {target})  {verdict}")
    print(f"messages/s   raw-relay / direct   = {ms['raw-relay'] / ms['direct']:6.2f}  (ceiling)")
    print(
        f"messages/s   wsinspect / raw-relay = {ms['wsinspect'] / ms['raw-relay']:6.2f}  (our cost)"
    )
    print(f"messages/s   watch / wsinspect     = {ms['watch'] / ms['wsinspect']:6.2f}  (feeding)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
