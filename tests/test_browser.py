"""A real headless Chromium, started the way `wsinspect browser` starts it, through the proxy."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from websockets.asyncio.server import serve
from websockets.typing import Origin

from tests.conftest import require_program, until
from tests.helpers import run_cli
from wsinspect import browser
from wsinspect.capture.proxy import ProxyConfig
from wsinspect.capture.service import Capture
from wsinspect.diagnose import diagnosis_of
from wsinspect.model import Handshake, Session

PAGE = """<!doctype html><title>app</title><script>
const ws = new WebSocket({url!r}{protocols});
ws.onopen = () => ws.send("hello");
</script>"""


@contextmanager
def page_server(pages: dict[str, str]) -> Iterator[int]:
    """The developer's app: pages on http://localhost:PORT that open WebSockets elsewhere."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "not found").encode()
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, like a dev server's (mkcert's, say)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@asynccontextmanager
async def through_the_proxy(upstream_ca: Path | None = None) -> AsyncIterator[tuple[int, Session]]:
    config = ProxyConfig(port=0, upstream_ca=str(upstream_ca) if upstream_ca else None)
    async with Capture.embedded(config) as capture:
        yield capture.port, capture.session


@asynccontextmanager
async def headless_chromium(proxy_port: int, url: str) -> AsyncIterator[None]:
    require_program("chromium", "apt-get install chromium")
    launch = browser.prepare(f"127.0.0.1:{proxy_port}", url, headless=True)
    assert launch.browser.family == "chromium"
    running = launch.start()
    try:
        yield
    finally:
        running.stop()


async def the_websocket(session: Session, path: str, timeout: float = 30) -> Handshake:
    def found() -> Handshake | None:
        return next((h for h in session if h.url.endswith(path) and h.answered), None)

    await until(lambda: found() is not None, timeout=timeout)
    handshake = found()
    assert handshake is not None
    return handshake


async def refusing_server(**kwargs):
    async def echo(ws) -> None:
        async for message in ws:
            await ws.send(message)

    return await serve(echo, "127.0.0.1", 0, origins=[Origin("https://app.example.com")], **kwargs)


async def test_chromium_refused_origin_is_captured_with_the_pages_origin():
    server = await refusing_server()
    ws_port = server.sockets[0].getsockname()[1]
    pages = {"/": PAGE.format(url=f"ws://127.0.0.1:{ws_port}/chat", protocols="")}
    try:
        with page_server(pages) as page_port:
            async with through_the_proxy() as (proxy_port, session):
                page = f"http://localhost:{page_port}/"
                async with headless_chromium(proxy_port, page):
                    handshake = await the_websocket(session, "/chat")
    finally:
        server.close()
    assert handshake.origin == f"http://localhost:{page_port}"  # the page's real Origin
    assert handshake.status == 403
    assert handshake.request.headers.get("User-Agent", "").find("Chrome/") > 0
    finding = diagnosis_of(handshake).findings[0]
    assert finding.code == "origin-rejected"
    assert finding.evidence["Origin"] == f"http://localhost:{page_port}"


async def test_chromium_subprotocol_ignored_is_captured():
    async def ignore(ws) -> None:
        await ws.wait_closed()

    server = await serve(ignore, "127.0.0.1", 0)  # no subprotocols configured: selects none
    ws_port = server.sockets[0].getsockname()[1]
    url = f"ws://127.0.0.1:{ws_port}/graphql"
    pages = {"/": PAGE.format(url=url, protocols=', ["graphql-transport-ws"]')}
    try:
        with page_server(pages) as page_port:
            async with (
                through_the_proxy() as (proxy_port, session),
                headless_chromium(proxy_port, f"http://localhost:{page_port}/"),
            ):
                handshake = await the_websocket(session, "/graphql")
    finally:
        server.close()
    assert handshake.status == 101
    assert handshake.offered_subprotocols == ["graphql-transport-ws"]
    assert handshake.selected_subprotocol is None
    assert diagnosis_of(handshake).findings[0].code == "subprotocol-not-selected"


async def test_chromium_wss_through_the_spki_pin(tmp_path):
    """No CA installed anywhere: the pin alone lets Chromium accept the proxy's certificates."""
    cert, key = self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server = await refusing_server(ssl=tls)
    ws_port = server.sockets[0].getsockname()[1]
    pages = {"/": PAGE.format(url=f"wss://127.0.0.1:{ws_port}/secure", protocols="")}
    try:
        with page_server(pages) as page_port:
            async with (
                through_the_proxy(upstream_ca=cert) as (proxy_port, session),
                headless_chromium(proxy_port, f"http://localhost:{page_port}/"),
            ):
                handshake = await the_websocket(session, "/secure")
    finally:
        server.close()
    assert handshake.url == f"wss://127.0.0.1:{ws_port}/secure"
    assert handshake.status == 403
    assert diagnosis_of(handshake).findings[0].code == "origin-rejected"


async def test_dry_run_prints_proxy_bypass_and_pin():
    require_program("chromium", "apt-get install chromium")
    code, out, _ = await run_cli("browser", "--dry-run", "-p", "9999", "http://localhost:5173/")
    assert code == 0
    pin = browser.spki_pin(browser.ca_certificate())
    assert "--proxy-server=http://127.0.0.1:9999" in out
    assert "'--proxy-bypass-list=<-loopback>'" in out
    assert f"--ignore-certificate-errors-spki-list={pin}" in out
    assert out.rstrip().endswith("http://localhost:5173/")


async def test_a_missing_browser_is_one_line(tmp_path):
    code, _, err = await run_cli("browser", "--browser", str(tmp_path / "nope"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no browser at" in err


@pytest.mark.parametrize("name", ["firefox"])
def test_firefox_profile_sets_the_proxy_and_localhost_capture(tmp_path, name):
    fake = browser.Browser(str(tmp_path / name), "firefox")
    command = browser.firefox_command(fake, "127.0.0.1:8877", tmp_path, None, headless=True)
    prefs = (tmp_path / "user.js").read_text()
    assert 'user_pref("network.proxy.http_port", 8877);' in prefs
    assert 'user_pref("network.proxy.allow_hijacking_localhost", true);' in prefs
    # Firefox's own push service is a WebSocket: kept out of the list.
    assert 'user_pref("dom.push.connection.enabled", false);' in prefs
    assert command[:3] == [fake.path, "--profile", str(tmp_path)]


def wsinspect_process(*arguments: str, tmp: Path, env: dict[str, str] | None = None):
    """A real `wsinspect` process of this checkout, its temporary files (the profile) in ``tmp``."""
    here = str(Path(browser.__file__).parents[1])
    environment = {**(os.environ if env is None else env), "TMPDIR": str(tmp), "PYTHONPATH": here}
    return asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wsinspect",
        *arguments,
        env=environment,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )


def processes_using(profile: Path) -> list[int]:
    """Every process whose command line names the profile: the browser and all its helpers."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(profile).encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
async def test_closing_the_terminal_stops_the_browser_and_removes_its_profile(tmp_path, sent):
    """SIGHUP is what closing the terminal sends; the browser runs in a process group of its own,
    so it would live on, its profile (that session's cookies) on disk, unless we stop it."""
    require_program("chromium", "apt-get install chromium")
    process = await wsinspect_process("browser", "--headless", "-p", "9", tmp=tmp_path)
    assert process.stderr is not None
    line = b""
    while b"started" not in line:
        line = await asyncio.wait_for(process.stderr.readline(), 30)
        assert line, "wsinspect browser ended before starting the browser"
    [profile] = tmp_path.glob("wsinspect-browser-*")
    assert processes_using(profile)  # the browser runs, with helpers
    process.send_signal(sent)
    await asyncio.wait_for(process.wait(), 15)
    assert processes_using(profile) == []
    assert not profile.exists()


async def test_with_no_display_it_says_why_and_exits_2(tmp_path):
    require_program("chromium", "apt-get install chromium")
    no_display = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    process = await wsinspect_process("browser", "-p", "9", tmp=tmp_path, env=no_display)
    assert process.stderr is not None
    err = (await asyncio.wait_for(process.stderr.read(), 30)).decode()
    assert await process.wait() == 2
    said = [line for line in err.splitlines() if "warning" not in line]
    assert len(said) == 1 and "no display" in said[0]
    assert "--headless" in said[0] and "xvfb-run" in said[0]
    assert "started" not in err
    assert list(tmp_path.glob("wsinspect-browser-*")) == []


async def test_the_dashboard_says_why_a_browser_did_not_start(tmp_path, monkeypatch):
    """No display: an error toast with the reason, never "Started" while nothing runs."""
    require_program("chromium", "apt-get install chromium")
    from tests.test_tui import screen_text
    from tests.test_tui_keys import SIZE, live, palette

    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the profile is made
    app = live()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(lambda: app.proxy is not None, timeout=20)
        await palette(pilot, "Open a browser through this proxy")
        await until(lambda: "no display" in screen_text(app), timeout=10)
        text = screen_text(app)
        await app.stop_proxy()
    assert "xvfb-run" in text and "Started" not in text
    assert list(tmp_path.glob("wsinspect-browser-*")) == []


def test_firefox_profile_trusts_the_proxys_ca_for_wss(tmp_path):
    """No manual import: the CA goes into this profile's own NSS database, trusted for TLS."""
    certutil = require_program("certutil", "apt-get install libnss3-tools")
    ca = browser.ca_certificate(tmp_path / "confdir")
    profile = tmp_path / "profile"
    profile.mkdir()
    assert browser.import_ca(profile, ca) is None
    listed = subprocess.run(
        [certutil, "-L", "-d", f"sql:{profile}"], capture_output=True, text=True, check=True
    ).stdout
    line = next(line for line in listed.splitlines() if line.startswith(browser.CA_NICKNAME))
    assert line.split()[-1] == "C,,"  # a trusted CA for servers' certificates
    assert (profile / "cert9.db").is_file()


@pytest.mark.parametrize("flags", [["--firefox"], ["--browser", "firefox"]])
async def test_firefox_by_family_finds_debians_firefox_esr(tmp_path, monkeypatch, flags):
    """Debian installs Firefox as firefox-esr: --firefox finds it (a stand-in here when Firefox
    is not installed; only its name and place matter to the lookup)."""
    real = shutil.which("firefox") or shutil.which("firefox-esr")  # the order wsinspect looks
    if real is None:
        stand_in = tmp_path / "firefox-esr"
        stand_in.write_text("#!/bin/sh\n")
        stand_in.chmod(0o755)
        monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
        real = str(stand_in)
    code, out, err = await run_cli("browser", *flags, "--dry-run", "-p", "9999")
    assert code == 0, err
    assert out.startswith(real + " --profile ")


async def test_firefox_wss_through_its_profiles_own_ca(tmp_path):
    """Firefox takes no key pin: the CA imported into the temporary profile is what lets it
    accept the proxy's certificates; its own push WebSocket stays out of the list."""
    firefox = require_program("firefox-esr", "apt-get install firefox-esr")
    require_program("certutil", "apt-get install libnss3-tools")
    cert, key = self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server = await refusing_server(ssl=tls)
    ws_port = server.sockets[0].getsockname()[1]
    pages = {"/": PAGE.format(url=f"wss://127.0.0.1:{ws_port}/secure", protocols="")}
    try:
        with page_server(pages) as page_port:
            async with through_the_proxy(upstream_ca=cert) as (proxy_port, session):
                page = f"http://localhost:{page_port}/"
                proxy = f"127.0.0.1:{proxy_port}"
                launch = browser.prepare(proxy, page, browser_path=firefox, headless=True)
                assert launch.notes == []  # nothing to import by hand
                running = launch.start()
                try:
                    handshake = await the_websocket(session, "/secure", timeout=60)
                finally:
                    running.stop()
    finally:
        server.close()
    assert handshake.url == f"wss://127.0.0.1:{ws_port}/secure"
    assert "Firefox/" in (handshake.request.headers.get("User-Agent") or "")
    assert handshake.status == 403
    assert all("127.0.0.1" in h.url for h in session)  # no push.services.mozilla.com
