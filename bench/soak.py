"""Soak: a steady load through `wsinspect record` for half an hour; its memory must stay flat.

An echo server and `wsinspect record` each in their own process (bench/processes.py), and the
clients here (bench/load.py's): N connections sending --rate messages/s each (500 messages/s in
total by default), every echo checked. The message windows fill within the first minute; after
--warmup seconds the proxy's resident memory must stay within 5% of its level then.

Printed: one line per sample (every 10 s: elapsed time, the proxy's RSS, messages echoed so far),
then the growth from the end of the warm-up to the end of the run, and whether every message came
back unchanged. Exit status 1 when memory grew more than 5% or a message was lost or altered.

Run: python bench/soak.py [--duration 1800] [--warmup 600] [--connections 500] [--rate 1]
     [--record-env NAME=VALUE ...]  (e.g. MALLOC_ARENA_MAX=2, to tell fragmentation from a leak)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from load import Phase, client, rss_mb
from processes import echo_server, start

TARGET_GROWTH = 0.05  # of the RSS at the end of the warm-up


async def sample(pid: int, phase: Phase, every: float, until: float) -> list[tuple[float, float]]:
    """The proxy's RSS every ``every`` seconds, printed as it goes."""
    began = time.monotonic()
    samples: list[tuple[float, float]] = []
    while time.monotonic() < until:
        await asyncio.sleep(min(every, max(0.0, until - time.monotonic())))
        elapsed, rss = time.monotonic() - began, rss_mb(pid)
        samples.append((elapsed, rss))
        print(f"{elapsed:7.0f} s  rss {rss:7.1f} MB  echoed {phase.echoed:9,}", flush=True)
    return samples


def growth(samples: list[tuple[float, float]], warmup: float) -> tuple[float, float, float, float]:
    """(RSS at the end of the warm-up, RSS at the end, growth as a fraction of the first, the
    trend in MB per 10 s). Each end is the median of three samples around it, so one busy sample
    does not decide; the trend is a least-squares line through every sample after the warm-up."""
    after = [(elapsed, rss) for elapsed, rss in samples if elapsed >= warmup]
    if len(after) < 3:
        raise SystemExit("the run is too short for its warm-up: nothing to compare")
    first = statistics.median(rss for _, rss in after[:3])
    last = statistics.median(rss for _, rss in after[-3:])
    trend = statistics.linear_regression([t for t, _ in after], [rss for _, rss in after]).slope
    return first, last, (last - first) / first, trend * 10


async def soak(args: argparse.Namespace) -> int:
    server, port, _ = start([sys.executable, "-c", echo_server("max_queue=None")], r"(\d+)", False)
    folder = Path(tempfile.mkdtemp(prefix="wsinspect-soak-"))
    env = {**os.environ, **dict(item.split("=", 1) for item in args.record_env)}
    record, proxy_port, errors = start(
        [
            *(sys.executable, "-m", "wsinspect", "record", "-p", "0"),
            *("-o", str(folder / "soak.json"), "--no-redact"),
            *("--keep-messages", str(args.keep_messages)),
            *("--save-every", str(args.save_every)),
        ],
        r"listening on [\d.]+:(\d+)",
        True,
        env=env,
    )
    print(f"proxy pid {record.pid}; {args.connections} connections x {args.rate:g} messages/s")
    url, proxy = f"ws://127.0.0.1:{port}/soak", f"http://127.0.0.1:{proxy_port}"
    phase = Phase()
    until = time.monotonic() + args.duration
    try:
        clients = [client(url, proxy, n, phase, until, args.rate) for n in range(args.connections)]
        sampler = asyncio.create_task(sample(record.pid, phase, args.every, until))
        await asyncio.gather(sampler, *clients)
        samples = sampler.result()
    finally:
        record.send_signal(signal.SIGINT)
        record.wait(120)
        server.kill()
        server.wait()
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    first, last, grew, trend = growth(samples, args.warmup)
    problems = [line.strip() for line in errors if line.startswith("mitmproxy:")]
    lost = phase.sent - phase.echoed
    print(
        f"after the {args.warmup:g} s warm-up: {first:.1f} MB -> {last:.1f} MB at "
        f"{samples[-1][0]:.0f} s: {grew:+.1%} (target <= {TARGET_GROWTH:.0%}); "
        f"trend {trend:+.2f} MB per 10 s\n"
        f"messages: {phase.sent:,} sent, {lost:,} lost, {phase.altered:,} altered, "
        f"{phase.echoed / args.duration:,.0f} echoed/s; failed connections "
        f"{phase.failed_connections}, proxy errors {len(problems)}"
    )
    intact = lost == 0 and phase.altered == 0 and phase.failed_connections == 0 and not problems
    return 0 if intact and grew <= TARGET_GROWTH else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=1800.0, help="seconds of load")
    parser.add_argument("--warmup", type=float, default=600.0, help="seconds before comparing")
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--rate", type=float, default=1.0, help="messages/s per connection")
    parser.add_argument("--keep-messages", type=int, default=200, help="record's window")
    parser.add_argument(
        "--save-every", type=float, default=5.0, help="record's autosave interval, s"
    )
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument(
        "--record-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the proxy process (repeatable)",
    )
    args = parser.parse_args()
    os.environ.pop("http_proxy", None)
    return asyncio.run(soak(args))


if __name__ == "__main__":
    sys.exit(main())
