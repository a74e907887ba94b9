"""The command line. Heavy imports (mitmproxy, textual) happen inside the commands needing them."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from wsinspect import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a number, not {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 0 and 65535, not {port}")
    return port


def _positive(kind: type[int] | type[float]):
    def parse(value: str) -> int | float:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, not {value!r}") from None
        if number <= 0:
            raise argparse.ArgumentTypeError(f"expected a number above 0, not {value}")
        return number

    return parse


def _add_proxy_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("proxy")
    group.add_argument(
        "--listen-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    group.add_argument(
        "-p", "--port", type=_port, default=8877, help="port to listen on (default: 8877; 0: any)"
    )
    group.add_argument(
        "--mode",
        default="regular",
        help="regular (an HTTP proxy for browsers, the default), reverse:URL (clients connect "
        "to wsinspect as if it were the server at URL) or upstream:URL (chain to another proxy)",
    )
    group.add_argument(
        "--allow-loopback-targets",
        action="store_true",
        help="with --listen-host beyond this machine: let clients from other machines reach "
        "services bound to this machine's loopback (localhost) through the proxy; refused "
        "by default",
    )
    group.add_argument(
        "--upstream-ca",
        type=Path,
        metavar="FILE",
        help="trust servers' certificates signed by this CA (PEM), e.g. mkcert's rootCA.pem",
    )
    group.add_argument(
        "--preview-bytes",
        type=_positive(int),
        default=512,
        metavar="N",
        help="bytes of each message kept for display (default: 512)",
    )
    group.add_argument(
        "--keep-messages",
        type=_positive(int),
        default=200,
        metavar="N",
        help="newest messages kept per connection; counts stay exact (default: 200)",
    )


def _header(value: str) -> tuple[str, str]:
    name, colon, rest = value.partition(":")
    if not colon or not name.strip() or name != name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', not {value!r}")
    return name, rest.strip()


def _add_save_every(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--save-every",
        type=_positive(float),
        default=5.0,
        metavar="SECONDS",
        help="how often the session file is brought up to date while capturing (default: 5)",
    )


def _add_fail_on(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fail-on",
        choices=("error", "warning", "never"),
        default="error",
        help="exit 1 when a finding of this severity or worse exists (default: error)",
    )


def _exit_code(verdicts: Sequence[str], fail_on: str) -> int:
    failing = {"error": {"error"}, "warning": {"error", "warning"}, "never": set()}[fail_on]
    return EXIT_FINDINGS if any(v in failing for v in verdicts) else EXIT_OK


def _stack(value: str) -> tuple[str | None, str]:
    """``NAME`` (every host) or ``HOST:PORT=NAME`` (that host): which stack answers."""
    from wsinspect.stack_choice import UnknownStack, parse_host_port, resolve

    where, equals, name = value.rpartition("=")
    try:
        return (parse_host_port(where) if equals else None), resolve(name)
    except (UnknownStack, ValueError) as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_stack_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stack",
        action="append",
        type=_stack,
        default=[],
        metavar="[HOST:PORT=]NAME",
        help="the server stack that answers (every host, or HOST:PORT only; repeat for "
        "several): its fix comes first, e.g. --stack Tornado or --stack localhost:8888=Tornado. "
        "Wins over the stacks remembered from the dashboard's w key",
    )


def _choices(args: argparse.Namespace):
    """The stacks the user named: remembered ones, then this command line's."""
    from wsinspect.stack_choice import StackChoices

    return StackChoices.load(getattr(args, "stack", ()), warn=_warn)


def _add_output_options(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--force", action="store_true", help=f"overwrite {name} if it exists")
    parser.add_argument(
        "--no-redact",
        dest="redact",
        action="store_false",
        help=f"keep cookies, Authorization and secret query parameters in {name}",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wsinspect",
        description="Capture WebSocket handshakes through an intercepting proxy and find out "
        "why they fail.",
    )
    parser.add_argument("--version", action="version", version=f"wsinspect {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    watch = commands.add_parser(
        "watch",
        help="the dashboard over a live proxy (the default command)",
        description="Start the proxy and the live dashboard. Point a browser at the proxy and "
        "every WebSocket handshake appears, explained.",
    )
    watch.add_argument(
        "--save",
        type=Path,
        metavar="FILE",
        help="keep the session saved in FILE while capturing and on exit (.json, .har, .mitm "
        "or .md); a crash loses at most --save-every seconds",
    )
    _add_save_every(watch)
    _add_stack_option(watch)
    watch.add_argument(
        "--attach",
        nargs="?",
        const="",
        metavar="SOCKET",
        help="no proxy of our own: show what the addon in your mitmproxy sends "
        '(mitmdump -s "$(wsinspect addon-path)") over a Unix socket (default: per user)',
    )
    _add_proxy_options(watch)
    watch.set_defaults(run=_watch)

    addon = commands.add_parser(
        "addon-path",
        help="print the path of the addon for mitmdump -s / mitmweb -s (split mode)",
        description='Print the path of the mitmproxy script: mitmdump -s "$(wsinspect '
        'addon-path)" [--set wsinspect_save=FILE] [--set wsinspect_feed=SOCKET]. It needs '
        "wsinspect installed in the same Python environment as mitmproxy.",
    )
    addon.set_defaults(run=_addon_path)

    open_ = commands.add_parser(
        "open",
        help="the dashboard on a saved session, HAR or mitmproxy flow file",
        description="Open a saved session, a HAR or a mitmproxy flow file in the dashboard, "
        "without a proxy.",
    )
    open_.add_argument("file", type=Path, metavar="FILE")
    _add_stack_option(open_)
    open_.set_defaults(run=_open)

    demo = commands.add_parser(
        "demo",
        help="a self-contained demo: misconfigured servers, scripted clients, the dashboard",
        description="Start built-in servers that fail the classic ways, send browser-like "
        "handshakes to them through the proxy, and show the result live.",
    )
    _add_proxy_options(demo)
    _add_stack_option(demo)
    demo.set_defaults(run=_demo, port=0)

    record = commands.add_parser(
        "record",
        help="run the proxy headless: a line per handshake, a session file at the end",
        description="Run the proxy without a screen. Prints one line per WebSocket handshake as "
        "it finishes and writes the session file on Ctrl-C, SIGTERM, --count or --duration.",
    )
    record.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="FILE",
        help="session file; its extension picks the format: .json, .har, .mitm or .md",
    )
    record.add_argument("--count", type=_positive(int), metavar="N", help="stop after N handshakes")
    record.add_argument(
        "--duration", type=_positive(float), metavar="SECONDS", help="stop after this long"
    )
    _add_output_options(record, "FILE")
    _add_save_every(record)
    _add_proxy_options(record)
    record.set_defaults(run=_record)

    diagnose = commands.add_parser(
        "diagnose",
        help="explain every handshake in saved sessions; exit 1 on findings (for CI)",
        description="Diagnose every WebSocket handshake in wsinspect sessions, HAR files "
        "(Chrome, Firefox, mitmproxy, HTTP Toolkit) or mitmproxy flow files: why it "
        "failed, which server stack answered, and the fix. Exit 1 when a finding is at or "
        "above --fail-on, 2 when a file cannot be read.",
    )
    diagnose.add_argument("files", nargs="+", type=Path, metavar="FILE")
    diagnose.add_argument(
        "--format", choices=("text", "json", "markdown"), default="text", help="default: text"
    )
    diagnose.add_argument(
        "--no-redact",
        dest="redact",
        action="store_false",
        help="print cookies, tokens and other secrets as captured (redacted by default)",
    )
    _add_fail_on(diagnose)
    _add_stack_option(diagnose)
    diagnose.set_defaults(run=_diagnose)

    probe = commands.add_parser(
        "probe",
        help="send a handshake with other Origins and subprotocols; tell the server's policy",
        description="Send the WebSocket handshake to URL as given, then with the same-origin "
        "Origin, no Origin, a foreign Origin, null, each subprotocol alone and none; print what "
        "each got (status, selected subprotocol, stack, findings) and the policy that explains "
        "it. One request at a time, each WebSocket closed with 1000 right after the handshake, "
        "no message sent. Exit 1 when the handshake as given fails or the policy is risky "
        "(see --fail-on), 2 when the server cannot be reached.",
    )
    probe.add_argument("url", metavar="URL", help="ws:// or wss:// URL of the endpoint")
    probe.add_argument(
        "--origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="the page's Origin (the first is sent as given; others are tried too)",
    )
    probe.add_argument(
        "--subprotocol",
        action="append",
        default=[],
        metavar="NAME",
        help="a subprotocol to offer (repeat for several, in order)",
    )
    probe.add_argument(
        "-H",
        "--header",
        action="append",
        type=_header,
        default=[],
        metavar="'NAME: VALUE'",
        help="another request header, e.g. a User-Agent or an API key",
    )
    probe.add_argument(
        "--with-credentials",
        action="store_true",
        help="also send Cookie and Authorization headers given with -H (left out by default)",
    )
    probe.add_argument(
        "--proxy", metavar="URL", help="send through this HTTP proxy (e.g. a running wsinspect)"
    )
    probe.add_argument(
        "--timeout",
        type=_positive(float),
        default=5.0,
        metavar="SECONDS",
        help="for each handshake (default: 5)",
    )
    probe.add_argument(
        "-k", "--insecure", action="store_true", help="do not verify the server's certificate"
    )
    probe.add_argument("--format", choices=("text", "json"), default="text", help="default: text")
    _add_fail_on(probe)
    probe.set_defaults(run=_probe)

    export = commands.add_parser(
        "export",
        help="convert a session, HAR or mitmproxy flow file (format by extension)",
        description="Read a wsinspect session, a HAR (Chrome, Firefox, mitmproxy, HTTP Toolkit) "
        "or a mitmproxy flow file, diagnose every WebSocket handshake in it, and write it as "
        ".json (wsinspect session), .har (HTTP Archive, opens in Chrome DevTools), .mitm "
        "(mitmproxy flows, for mitmweb -r) or .md (a Markdown report for a ticket).",
    )
    export.add_argument("file", type=Path, metavar="FILE")
    export.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    _add_output_options(export, "OUT")
    _add_stack_option(export)
    export.set_defaults(run=_export)

    launch = commands.add_parser(
        "browser",
        help="start a browser whose traffic goes through a running wsinspect",
        description="Start Chromium, Chrome, Edge, Brave or Firefox with a fresh temporary "
        "profile that uses the proxy, captures localhost too, and trusts the proxy's CA for "
        "this profile only (wss:// works, nothing is installed). The profile is removed when "
        "the browser exits. Start `wsinspect` first, in another terminal.",
    )
    launch.add_argument("url", nargs="?", metavar="URL", help="page to open")
    launch.add_argument(
        "--browser",
        metavar="PATH",
        help="the browser to start: a path, a program, or firefox/chromium/chrome (default: the "
        "first one found)",
    )
    launch.add_argument(
        "--firefox",
        dest="browser",
        action="store_const",
        const="firefox",
        help="start Firefox (the same as --browser firefox)",
    )
    launch.add_argument(
        "--listen-host",
        default="127.0.0.1",
        metavar="HOST",
        help="where wsinspect listens (default: 127.0.0.1)",
    )
    launch.add_argument(
        "-p", "--port", type=_port, default=8877, help="wsinspect's port (default: 8877)"
    )
    launch.add_argument(
        "--dry-run", action="store_true", help="print the command line instead of running it"
    )
    launch.add_argument("--headless", action="store_true", help="no window (for scripts and CI)")
    launch.set_defaults(run=_browser)
    return parser


def _browser(args: argparse.Namespace) -> int:
    import shlex
    import socket

    from wsinspect import browser
    from wsinspect.capture.proxy import ProxyConfig

    proxy = ProxyConfig(args.listen_host, args.port).address
    try:
        launch = browser.prepare(proxy, args.url, browser_path=args.browser, headless=args.headless)
    except browser.BrowserError as e:
        raise UsageError(str(e)) from None
    if args.dry_run:
        launch.remove_profile()
        print(shlex.join(launch.command))
        return EXIT_OK
    try:
        socket.create_connection((args.listen_host, args.port), timeout=1).close()
    except OSError:
        print(
            f"wsinspect: warning: nothing listens on {proxy}; start `wsinspect -p {args.port}` "
            "first, or the browser will show proxy errors",
            file=sys.stderr,
        )
    for note in launch.notes:
        print(f"wsinspect: {note}", file=sys.stderr)
    try:
        running = launch.start()  # stopped, its profile removed, however this process ends
    except browser.BrowserError as e:
        raise UsageError(str(e)) from None
    problem = running.exited_early()  # no display, say: not "started" while nothing runs
    if problem:
        raise UsageError(problem)
    print(f"wsinspect: started {launch.browser.path} through {proxy}", file=sys.stderr)
    try:
        running.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
    return EXIT_OK


def _warn(message: str) -> None:
    print(f"wsinspect: warning: {message}", file=sys.stderr)


def _read(path: Path, choices=None):
    """A session file, diagnosed (with the stacks the user named, ``choices``); bad input is a
    UsageError (one line, exit 2)."""
    from wsinspect.diagnose import diagnosis_of
    from wsinspect.sessions import InputError, load

    try:
        session = load(path, warn=_warn)
        for handshake in session:  # now, inside the net below, rather than while reporting
            if choices is not None:
                choices.apply(handshake)
            diagnosis_of(handshake)
    except InputError as e:
        raise UsageError(str(e)) from None
    except MemoryError:
        raise UsageError(f"{path}: too large to read here (out of memory)") from None
    except Exception as e:  # the outer net: a bug of ours, said in one line, never a traceback
        raise UsageError(f"internal error reading {path}: {_first_line(e)}") from None
    return session


def _first_line(error: Exception) -> str:
    text = str(error).splitlines()[0][:200] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _export(args: argparse.Namespace) -> int:
    from wsinspect.sessions import OutputError, check_writable, save

    try:
        check_writable(args.output, force=args.force)
    except OutputError as e:
        raise UsageError(str(e)) from None
    session = _read(args.file, _choices(args))
    try:
        save(session, args.output, redact=args.redact)
    except OutputError as e:
        raise UsageError(str(e)) from None
    print(f"wsinspect: wrote {len(session)} handshakes to {args.output}", file=sys.stderr)
    return EXIT_OK


def _diagnose(args: argparse.Namespace) -> int:
    from wsinspect import report
    from wsinspect.sessions.redact import RedactedHandshakes

    handshakes = []
    unreadable = False
    choices = _choices(args)
    for path in args.files:
        try:
            handshakes += _read(path, choices)
        except UsageError as e:
            print(f"wsinspect: {e}", file=sys.stderr)
            unreadable = True
    if unreadable and not handshakes:
        return EXIT_USAGE  # nothing to report: the lines on stderr say why
    render = {
        "text": report.text_chunks,
        "json": report.json_chunks,
        "markdown": report.markdown_chunks,
    }
    shown = RedactedHandshakes(handshakes) if args.redact else handshakes
    sys.stdout.writelines(render[args.format](shown))  # written as rendered, never whole
    if unreadable:
        return EXIT_USAGE
    from wsinspect.diagnose import diagnosis_of

    return _exit_code([diagnosis_of(h).verdict for h in handshakes], args.fail_on)


def _probe(args: argparse.Namespace) -> int:
    from wsinspect import report
    from wsinspect.probe import Target, Unreachable, run, variants
    from wsinspect.sessions.redact import redact_url

    if not args.url.startswith(("ws://", "wss://")):
        raise UsageError(f"probe needs a ws:// or wss:// URL, not {args.url!r}")
    target = Target(
        url=args.url,
        origins=tuple(args.origin),
        subprotocols=tuple(args.subprotocol),
        headers=tuple(args.header),
        with_credentials=args.with_credentials,
        proxy=args.proxy,
        timeout=args.timeout,
        verify_tls=not args.insecure,
    )
    print(
        f"wsinspect: probing {redact_url(args.url)} with {len(variants(target))} handshakes,"
        " one at a time",
        file=sys.stderr,
    )
    try:
        result = run(target)
    except Unreachable as e:
        raise UsageError(str(e)) from None
    sys.stdout.write(
        report.probe_json(result) if args.format == "json" else report.probe_text(result)
    )
    return _exit_code([result.verdict], args.fail_on)


def _live_options(args: argparse.Namespace, demo: bool = False):
    from wsinspect.capture.limits import Limits
    from wsinspect.capture.proxy import ProxyError, check_mode
    from wsinspect.tui.app import LiveOptions

    try:
        check_mode(args.mode)
    except ProxyError as e:
        raise UsageError(str(e)) from None
    attach = getattr(args, "attach", None)
    if attach is not None:
        from wsinspect.capture.feed import default_socket

        attach = Path(attach) if attach else default_socket()
    return LiveOptions(
        proxy=_proxy_config(args),
        limits=Limits(preview_bytes=args.preview_bytes, max_messages=args.keep_messages),
        save=getattr(args, "save", None),
        save_every=getattr(args, "save_every", 5.0),
        demo=demo,
        attach=attach,
    )


def _proxy_config(args: argparse.Namespace):
    from wsinspect.capture.proxy import ProxyConfig

    upstream_ca = args.upstream_ca
    if upstream_ca is not None and not upstream_ca.is_file():
        raise UsageError(f"--upstream-ca: no file at {upstream_ca}")
    config = ProxyConfig(
        listen_host=args.listen_host,
        port=args.port,
        mode=args.mode,
        upstream_ca=None if upstream_ca is None else str(upstream_ca),
        allow_loopback_targets=args.allow_loopback_targets,
    )
    if config.exposure is not None:
        _warn(config.exposure)  # the dashboard says it again on its status line
    return config


def _watch(args: argparse.Namespace) -> int:
    from wsinspect.sessions import OutputError, check_writable
    from wsinspect.tui.app import WsinspectApp

    if args.save is not None:
        try:
            check_writable(args.save)
        except OutputError as e:
            raise UsageError(str(e)) from None
    app = WsinspectApp(live=_live_options(args), stacks=_choices(args))
    app.run()
    return app.return_code or EXIT_OK


def _addon_path(args: argparse.Namespace) -> int:
    print(Path(__file__).with_name("mitmproxy_script.py"))
    return EXIT_OK


def _open(args: argparse.Namespace) -> int:
    from wsinspect.tui.app import WsinspectApp

    choices = _choices(args)
    WsinspectApp(session=_read(args.file, choices), stacks=choices).run()
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from wsinspect.tui.app import WsinspectApp

    WsinspectApp(live=_live_options(args, demo=True), stacks=_choices(args)).run()
    return EXIT_OK


def _record(args: argparse.Namespace) -> int:
    import asyncio

    from wsinspect.capture.limits import Limits
    from wsinspect.capture.proxy import ProxyError, check_mode
    from wsinspect.record import RecordOptions, run_record
    from wsinspect.sessions import OutputError, check_writable

    try:
        check_writable(args.output, force=args.force)
        check_mode(args.mode)
    except (OutputError, ProxyError) as e:
        raise UsageError(str(e)) from None
    options = RecordOptions(
        output=args.output,
        proxy=_proxy_config(args),
        limits=Limits(preview_bytes=args.preview_bytes, max_messages=args.keep_messages),
        count=args.count,
        duration=args.duration,
        redact=args.redact,
        save_every=args.save_every,
    )
    try:
        return asyncio.run(run_record(options))
    except ProxyError as e:
        raise UsageError(str(e)) from None


def _raise_fd_limit() -> None:
    """Each proxied connection holds two sockets: a soft limit of 1024 would refuse clients
    long before the hard limit the system allows, so take the hard one."""
    try:
        import resource
    except ImportError:  # Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):  # macOS refuses an unlimited soft limit
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or (
        arguments[0].startswith("-") and arguments[0] not in ("-h", "--help", "--version")
    ):
        arguments.insert(0, "watch")  # `wsinspect [proxy options]` is `wsinspect watch ...`
    args = parser.parse_args(arguments)
    if args.command in ("watch", "record", "demo"):  # the ones running a proxy
        _raise_fd_limit()
    try:
        return args.run(args)
    except UsageError as e:
        print(f"wsinspect: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
