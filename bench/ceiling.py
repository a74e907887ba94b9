"""The relay's ceiling, measured with a compiled client: handshakes/s and 64-byte echoes/s.

bench/throughput.py drives the proxies from Python, whose client tops out near 20k messages/s:
below what mitmproxy's raw relay carries, so its ratios partly measure the client. Here a Go
client and a Go echo server (bench/loadclient, gorilla/websocket from Debian's packages, built
into a temporary directory on each run) leave the proxy the slowest part. Targets:

    direct       the Go echo server itself
    wsinspect    `wsinspect record` (frame sniffing and validation, the attempts file)
    raw-relay    `mitmdump --set websocket=false`: mitmproxy's TCP relay, which wsinspect builds on
    mitmdump     `mitmdump`: mitmproxy's own WebSocket layer

Each round gives every target a slice of handshakes and a slice of echoes, in turn, and the
totals are divided by the time spent, so the drift of a shared machine hits every target alike.
Handshakes: connect through the proxy (CONNECT, then the upgrade) and a clean close, --concurrency
at a time. Echoes: one connection with --window 64-byte messages in flight (binary; --text for
text, which the frame validation checks as UTF-8); an echo is one message sent and received back.
Issue 16's targets:

    echoes/s      wsinspect >= 0.95 x raw-relay
    handshakes/s  wsinspect >= 1.0 x mitmdump

Also measured, to split the gap between wsinspect and mitmdump's raw relay:

    relay-9      wsinspect's embedded proxy (its nine mitmproxy addons, websocket=false) without
                 our recorder: the same relay as raw-relay with 22 fewer addons to offer each
                 chunk to, so raw-relay -> relay-9 is mitmproxy's hook dispatch and relay-9 ->
                 wsinspect is our own code (frame sniffing, validation, recording)

--uvloop adds the raw relay run on uvloop's event loop, when uvloop is installed.

Run: python bench/ceiling.py [--rounds N] [--seconds S] [--window N] [--concurrency N] [--text]
                             [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from subprocess import DEVNULL, Popen

from processes import free_port, start, wait_for_port

HERE = Path(__file__).parent
ROOT = HERE.parent
GOPATH = "/usr/share/gocode"  # Debian's Go packages: golang-github-gorilla-websocket-dev
UVLOOP_MITMDUMP = (
    "import uvloop; uvloop.install(); from mitmproxy.tools.main import mitmdump; mitmdump()"
)

TARGETS = [
    ("echoes/s", "wsinspect", "raw-relay", 0.95),
    ("handshakes/s", "wsinspect", "mitmdump", 1.0),
]


def build(directory: Path) -> Path:
    """The load client, built from bench/loadclient with Debian's Go packages, offline."""
    go = shutil.which("go")
    if go is None:
        raise SystemExit(
            "go not found: apt-get install golang-go golang-github-gorilla-websocket-dev"
        )
    binary = directory / "loadclient"
    environment = {**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH, "GOFLAGS": ""}
    result = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=HERE / "loadclient",
        env=environment,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"go build failed: {result.stderr.strip()[-500:]}")
    return binary


def measure(
    binary: Path, kind: str, url: str, proxy: str | None, options: list[str]
) -> tuple[float, float]:
    """One slice of ``kind`` (handshakes or echoes): (count, seconds)."""
    command = [str(binary), kind, "-url", url, *options]
    if proxy is not None:
        command += ["-proxy", proxy]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise SystemExit(f"loadclient {kind} via {proxy or 'nothing'}: {result.stderr.strip()}")
    figures = json.loads(result.stdout)
    return float(figures["count"]), float(figures["seconds"])


def mitmdump_process(port: int, extra: list[str], uvloop: bool = False) -> Popen[bytes]:
    mitmdump = shutil.which("mitmdump")
    if mitmdump is None:
        raise SystemExit("mitmdump not found: pip install mitmproxy")
    program = [sys.executable, "-c", UVLOOP_MITMDUMP] if uvloop else [mitmdump]
    arguments = ["-q", "--listen-host", "127.0.0.1", "-p", str(port), *extra]
    return Popen([*program, *arguments], stdout=DEVNULL, stderr=DEVNULL)


async def relay_without_recorder() -> None:
    """wsinspect's embedded proxy with no addon of ours, until terminated."""
    from wsinspect.capture.proxy import EmbeddedProxy, ProxyConfig

    proxy = EmbeddedProxy(ProxyConfig(port=0), [])
    await proxy.start()
    print(f"listening on 127.0.0.1:{proxy.port}", file=sys.stderr, flush=True)
    await asyncio.Event().wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__ and __doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=1.0, help="per target, kind and round")
    parser.add_argument("--window", type=int, default=1000, help="echoes in flight")
    parser.add_argument("--concurrency", type=int, default=4, help="handshakes at once")
    parser.add_argument("--text", action="store_true", help="text echoes (UTF-8 checked)")
    parser.add_argument("--uvloop", action="store_true", help="add the raw relay on uvloop")
    parser.add_argument("--relay-9", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.relay_9:
        asyncio.run(relay_without_recorder())
        return 0
    if args.uvloop and importlib.util.find_spec("uvloop") is None:
        raise SystemExit("--uvloop: pip install uvloop")

    # this tree's wsinspect, whatever the installed one is (an editable install elsewhere)
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    this_tree = {**os.environ, "PYTHONPATH": path}
    workdir = Path(tempfile.mkdtemp(prefix="wsinspect-ceiling-"))
    binary = build(workdir)
    echo, echo_port, _ = start([str(binary), "serve"], r"^(\d+)", False)
    record, record_port, _ = start(
        [sys.executable, "-m", "wsinspect", "record", "-p", "0", "-o", str(workdir / "out.json")],
        r"listening on [\d.]+:(\d+)",
        True,
        this_tree,
    )
    relay_9, relay_9_port, _ = start(
        [sys.executable, __file__, "--relay-9"], r"listening on [\d.]+:(\d+)", True, this_tree
    )
    ports = {"raw-relay": free_port(), "mitmdump": free_port()}
    dumps = [
        mitmdump_process(ports["raw-relay"], ["--set", "websocket=false"]),
        mitmdump_process(ports["mitmdump"], []),
    ]
    if args.uvloop:
        ports["raw-relay+uvloop"] = free_port()
        dumps.append(
            mitmdump_process(ports["raw-relay+uvloop"], ["--set", "websocket=false"], True)
        )
    for port in ports.values():
        wait_for_port(port)  # mitmdump says nothing when it is ready under -q

    url = f"ws://127.0.0.1:{echo_port}/"
    targets: dict[str, str | None] = {
        "direct": None,
        "wsinspect": f"http://127.0.0.1:{record_port}",
        "relay-9": f"http://127.0.0.1:{relay_9_port}",
        **{name: f"http://127.0.0.1:{port}" for name, port in ports.items()},
    }
    options = {
        "handshakes": ["-seconds", str(args.seconds), "-concurrency", str(args.concurrency)],
        "echoes": [
            "-seconds",
            str(args.seconds),
            "-window",
            str(args.window),
            "-size",
            "64",
            *(["-text"] if args.text else []),
        ],
    }
    totals = {(name, kind): [0.0, 0.0] for name in targets for kind in options}
    names = list(targets)
    try:
        for round_number in range(args.rounds):
            turn = names[round_number % len(names) :] + names[: round_number % len(names)]
            for name in turn:  # who goes first changes each round
                for kind, kind_options in options.items():
                    count, seconds = measure(binary, kind, url, targets[name], kind_options)
                    totals[name, kind][0] += count
                    totals[name, kind][1] += seconds
            print(f"round {round_number + 1}/{args.rounds}", file=sys.stderr, flush=True)
    finally:
        record.send_signal(signal.SIGINT)
        for process in (*dumps, echo, relay_9):
            process.terminate()
        record.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)

    rate = {key: count / seconds for key, (count, seconds) in totals.items()}
    for key, value in rate.items():
        if value == 0:  # a ratio against it means nothing: say why rather than divide
            raise SystemExit(
                f"{key[0]}: no {key[1]} in {args.seconds} s slices; use --seconds 1 or more"
            )
    report(rate, names, args)
    return 0


def report(rate: dict[tuple[str, str], float], names: list[str], args: argparse.Namespace) -> None:
    total = args.rounds * args.seconds
    print(
        f"{'':<17} {'handshakes/s':>12} {'echoes/s':>10}   ({total:g} s each, interleaved; "
        f"{args.concurrency} handshakes at once, {args.window} echoes in flight)"
    )
    for name in names:
        print(f"{name:<17} {rate[name, 'handshakes']:12.0f} {rate[name, 'echoes']:10.0f}")
    print()
    for label, ours, theirs, target in TARGETS:
        kind = label.removesuffix("/s")
        ratio = rate[ours, kind] / rate[theirs, kind]
        verdict = "ok" if ratio >= target else "BELOW TARGET"
        print(f"{label:<13} {ours} / {theirs:<9} = {ratio:5.2f}  (target >= {target})  {verdict}")
    for ours, theirs in (
        ("raw-relay", "direct"),
        ("relay-9", "raw-relay"),  # mitmproxy's hook dispatch: 9 addons against 31
        ("wsinspect", "relay-9"),  # our own code
        ("wsinspect", "direct"),
        ("wsinspect", "mitmdump"),
    ):
        echoes = rate[ours, "echoes"] / rate[theirs, "echoes"]
        handshakes = rate[ours, "handshakes"] / rate[theirs, "handshakes"]
        print(f"{ours:>9} / {theirs:<9}  echoes {echoes:5.2f}  handshakes {handshakes:5.2f}")
    if "raw-relay+uvloop" in names:
        for kind in ("echoes", "handshakes"):
            ratio = rate["raw-relay+uvloop", kind] / rate["raw-relay", kind]
            print(f"{kind + '/s':<13} raw-relay on uvloop / asyncio = {ratio:5.2f}")


if __name__ == "__main__":
    sys.exit(main())
