"""A browser that sends its WebSocket traffic through the proxy, set up the way that works.

Done by hand this fails in ways that look like wsinspect is broken: Chromium never proxies
localhost unless ``<-loopback>`` is in the bypass list, wss:// fails until the proxy's CA is
trusted, and a system proxy setting catches every other application. So: a fresh temporary
profile, the proxy set for that profile only, loopback captured, and the CA trusted for that
profile only (Chromium: ``--ignore-certificate-errors-spki-list`` with the CA's key pin;
Firefox: the CA imported into the profile's own certificate database with NSS's ``certutil``).

The profile holds that session's cookies: whatever ends this process (the browser closed, Ctrl+C,
the terminal closed, SIGTERM), the browser's whole process group is stopped and the profile
removed. A browser that exits at once (no display, say) is reported with the reason.
"""

from __future__ import annotations

import atexit
import base64
import collections
import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Literal

CONFDIR = Path("~/.mitmproxy").expanduser()  # mitmproxy's default: where its CA lives

# Where browsers are installed, most wanted first; names are looked up on PATH too.
CHROMIUM_NAMES = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "microsoft-edge",
    "brave-browser",
]
CHROMIUM_PATHS = {
    "darwin": [
        "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
        "/Applications/Chromium.app/Contents/MacOS/Chromium",
        "/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
        "/Applications/Brave Browser.app/Contents/MacOS/Brave Browser",
    ],
    "win32": [
        r"%PROGRAMFILES%\Google\Chrome\Application\chrome.exe",
        r"%PROGRAMFILES(X86)%\Google\Chrome\Application\chrome.exe",
        r"%LOCALAPPDATA%\Google\Chrome\Application\chrome.exe",
        r"%PROGRAMFILES(X86)%\Microsoft\Edge\Application\msedge.exe",
        r"%PROGRAMFILES%\BraveSoftware\Brave-Browser\Application\brave.exe",
    ],
    "linux": ["/usr/bin/chromium", "/snap/bin/chromium", "/opt/google/chrome/chrome"],
}
FIREFOX_NAMES = ["firefox", "firefox-esr"]
FIREFOX_PATHS = {
    "darwin": ["/Applications/Firefox.app/Contents/MacOS/firefox"],
    "win32": [r"%PROGRAMFILES%\Mozilla Firefox\firefox.exe"],
    "linux": ["/usr/bin/firefox", "/snap/bin/firefox"],
}


class BrowserError(Exception):
    """No browser, or it cannot be started; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Browser:
    path: str
    family: Literal["chromium", "firefox"]


def _platform() -> str:
    return "linux" if sys.platform.startswith("linux") else sys.platform


def _candidates() -> Iterator[Browser]:
    for family, names, paths in (
        ("chromium", CHROMIUM_NAMES, CHROMIUM_PATHS),
        ("firefox", FIREFOX_NAMES, FIREFOX_PATHS),
    ):
        for name in names:
            found = shutil.which(name)
            if found:
                yield Browser(found, family)  # type: ignore[arg-type]
        for path in paths.get(_platform(), []):
            expanded = os.path.expandvars(path)
            if Path(expanded).is_file():
                yield Browser(expanded, family)  # type: ignore[arg-type]


# ``--browser firefox`` means any Firefox (Debian's is ``firefox-esr``), and so on.
FAMILIES: dict[str, Literal["chromium", "firefox"]] = {
    "firefox": "firefox",
    "chromium": "chromium",
    "chrome": "chromium",
}


def find(explicit: str | None = None) -> Browser:
    """The browser to start: ``explicit`` (a path, a program or a family name) if given, else the
    first Chromium-family one, else Firefox."""
    if explicit:
        path = shutil.which(explicit) or explicit
        if Path(path).is_file():
            family = "firefox" if "firefox" in Path(path).name.lower() else "chromium"
            return Browser(path, family)
        wanted = FAMILIES.get(explicit.lower())
        found = next((b for b in _candidates() if b.family == wanted), None)
        if wanted is None or found is None:
            raise BrowserError(f"no browser at {explicit}")
        return found
    found = next(_candidates(), None)
    if found is None:
        names = CHROMIUM_NAMES + FIREFOX_NAMES
        paths = CHROMIUM_PATHS.get(_platform(), []) + FIREFOX_PATHS.get(_platform(), [])
        raise BrowserError(
            "no Chromium, Chrome, Edge, Brave or Firefox found (looked on PATH for "
            f"{', '.join(names)} and at {', '.join(paths)}); pass --browser PATH"
        )
    return found


def ca_certificate(confdir: Path = CONFDIR) -> Path:
    """mitmproxy's CA certificate, created first (as mitmproxy would) if it does not exist yet."""
    pem = confdir / "mitmproxy-ca-cert.pem"
    if not pem.exists():
        from mitmproxy import certs

        certs.CertStore.from_store(confdir, "mitmproxy", 2048)
    return pem


def spki_pin(certificate: Path) -> str:
    """Base64 SHA-256 of the certificate's SubjectPublicKeyInfo, as Chromium's flag wants it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(certificate.read_bytes())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def chromium_command(
    browser: Browser, proxy: str, profile: Path, pin: str, url: str | None, headless: bool
) -> list[str]:
    command = [
        browser.path,
        f"--user-data-dir={profile}",
        f"--proxy-server=http://{proxy}",
        # Chromium never proxies localhost and 127.0.0.1 unless told not to bypass them.
        "--proxy-bypass-list=<-loopback>",
        # Trust the proxy's CA for this profile only: wss:// works, nothing is installed.
        f"--ignore-certificate-errors-spki-list={pin}",
        "--no-first-run",
        "--no-default-browser-check",
    ]
    if headless:
        command.append("--headless=new")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    if url:
        command.append(url)
    return command


FIREFOX_PREFS = """\
user_pref("network.proxy.type", 1);
user_pref("network.proxy.http", "{host}");
user_pref("network.proxy.http_port", {port});
user_pref("network.proxy.ssl", "{host}");
user_pref("network.proxy.ssl_port", {port});
user_pref("network.proxy.no_proxies_on", "");
user_pref("network.proxy.allow_hijacking_localhost", true);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.aboutwelcome.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
"""

# Firefox's own background connections, kept out of the list: the push service is a WebSocket
# to push.services.mozilla.com, the rest is HTTPS that the proxy would carry for nothing.
FIREFOX_QUIET = {
    "dom.push.enabled": False,
    "dom.push.connection.enabled": False,
    "dom.push.serverURL": "",
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.server": "data:,",
    "datareporting.usage.uploadEnabled": False,
    "browser.newtabpage.activity-stream.showSponsored": False,
    "browser.newtabpage.activity-stream.showSponsoredTopSites": False,
    "browser.newtabpage.activity-stream.feeds.telemetry": False,
    "browser.topsites.contile.enabled": False,
    "app.normandy.enabled": False,
    "app.shield.optoutstudies.enabled": False,
    "app.update.enabled": False,
    "app.update.auto": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.remote.enabled": False,
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "browser.newtabpage.activity-stream.feeds.topsites": False,
    "browser.newtabpage.activity-stream.feeds.section.topstories": False,
    "browser.newtabpage.activity-stream.telemetry": False,
    "browser.ping-centre.telemetry": False,
    "browser.region.network.url": "",
    "browser.search.update": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "services.settings.server": "",
    "messaging-system.rsexperimentloader.enabled": False,
}


def _pref(name: str, value: bool | str) -> str:
    literal = ("true" if value else "false") if isinstance(value, bool) else f'"{value}"'
    return f'user_pref("{name}", {literal});\n'


CA_NICKNAME = "wsinspect (mitmproxy CA)"


def import_ca(profile: Path, ca: Path) -> str | None:
    """Trust ``ca`` in this Firefox profile only: NSS's ``certutil`` (Debian: libnss3-tools)
    writes it into the profile's own certificate database, which Firefox reads at start. A
    system-wide policies.json would change every profile, so it is not used. None when done,
    else what the user has to do instead."""
    certutil = shutil.which("certutil")
    if certutil is None:
        return FIREFOX_CA_HINT.format(ca=ca) + "; or install certutil (libnss3-tools) and restart"
    database = f"sql:{profile}"
    steps = (
        [certutil, "-N", "-d", database, "--empty-password"],
        [certutil, "-A", "-n", CA_NICKNAME, "-t", "C,,", "-i", str(ca), "-d", database],
    )
    for step in steps:
        done = subprocess.run(step, capture_output=True, timeout=30, check=False)
        if done.returncode != 0:
            said = _last_line(done.stderr.decode("utf-8", "replace").splitlines())
            return FIREFOX_CA_HINT.format(ca=ca) + f" (certutil failed: {said})"
    return None


def firefox_command(
    browser: Browser, proxy: str, profile: Path, url: str | None, headless: bool
) -> list[str]:
    host, _, port = proxy.rpartition(":")
    prefs = FIREFOX_PREFS.format(host=host.strip("[]"), port=port)
    prefs += "".join(_pref(name, value) for name, value in FIREFOX_QUIET.items())
    (profile / "user.js").write_text(prefs)
    command = [browser.path, "--profile", str(profile), "--no-remote", "--new-instance"]
    if headless:
        command.append("--headless")
    if url:
        command.append(url)
    return command


FIREFOX_CA_HINT = (
    "Firefox does not take a key pin: for wss:// import {ca} in this window "
    "(Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import)"
)


STARTUP_WAIT = 1.5  # seconds a browser must keep running to count as started
STOP_WAIT = 5.0  # seconds between asking the browser's processes to end and killing them

# Why a browser stopped at once, from what it wrote last: (its words, what to tell the user).
EARLY_EXIT_REASONS = (
    (
        re.compile(r"Missing X server or \$DISPLAY|no DISPLAY environment|cannot open display"),
        "no display to open a window on: add --headless, or run it under xvfb-run",
    ),
)


def _last_line(lines: list[str]) -> str:
    """The last non-empty line, printable and short: it is the browser's text, shown as is."""
    said = next((line for line in reversed(lines) if line.strip()), "")
    return "".join(c if c.isprintable() else "?" for c in said.strip())[:200]


@dataclass
class Launch:
    """A prepared browser start: the command line, its temporary profile, what to tell the user."""

    browser: Browser
    command: list[str]
    profile: Path
    notes: list[str]

    def start(self) -> Running:
        """Start it in a process group of its own (so that all of it can be stopped), stopped and
        its profile removed whenever this process ends."""
        stop_browsers_on_exit()
        try:
            process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as e:
            self.remove_profile()
            raise BrowserError(f"cannot start {self.browser.path}: {e.strerror}") from None
        running = Running(self, process)
        _running.add(running)
        return running

    def remove_profile(self) -> None:
        shutil.rmtree(self.profile, ignore_errors=True)


@dataclass(eq=False)
class Running:
    """A started browser: its process group, the last lines it wrote (for why it stopped)."""

    launch: Launch
    process: subprocess.Popen[bytes]
    said: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=20))
    reader: threading.Thread | None = None

    def __post_init__(self) -> None:
        # Read what it writes, always: a full pipe would block the browser. Bounded memory.
        self.reader = threading.Thread(target=self._listen, daemon=True)
        self.reader.start()

    def _listen(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.said.append(line.decode("utf-8", "replace").rstrip())

    def exited_early(self, wait: float = STARTUP_WAIT) -> str | None:
        """None if it is still running after ``wait`` seconds; else, stopped and cleaned up, why
        it exited, in one line."""
        deadline = time.monotonic() + wait
        while self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.process.poll() is None:
            return None
        return self.why_exited()

    def why_exited(self) -> str:
        """One line: a known reason with what to do, else its exit code and last words."""
        self.stop()
        if self.reader is not None:
            self.reader.join(1.0)  # its last lines: the pipe ends with the last of its processes
        said = list(self.said)
        for words, reason in EARLY_EXIT_REASONS:
            if any(words.search(line) for line in said):
                return f"{self.launch.browser.path} exited at once: {reason}"
        last = _last_line(said)
        code = self.process.returncode
        return f"{self.launch.browser.path} exited at once (code {code})" + (
            f": {last}" if last else ""
        )

    def stop(self) -> None:
        """End every process of the browser's group (asked first, then killed), then remove the
        profile: it holds that session's cookies."""
        _running.discard(self)
        group = self.process.pid
        _signal_group(group, signal.SIGTERM)
        if not _ended(self.process, STOP_WAIT):
            _signal_group(group, getattr(signal, "SIGKILL", signal.SIGTERM))
            _ended(self.process, STOP_WAIT)
        _signal_group(group, getattr(signal, "SIGKILL", signal.SIGTERM))  # helpers left behind
        _group_gone(group, STOP_WAIT)
        self.launch.remove_profile()


def _ended(process: subprocess.Popen[bytes], within: float) -> bool:
    """Whether the browser ended within the time. Reaped without ``Popen.wait``: a signal handler
    stops the browsers, and the wait it interrupted holds Popen's lock (waiting on it hangs)."""
    if not hasattr(os, "WNOHANG"):
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(within)
        return process.returncode is not None
    deadline = time.monotonic() + within
    while process.returncode is None:
        try:
            pid, status = os.waitpid(process.pid, os.WNOHANG)
        except ChildProcessError:  # reaped already
            return True
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
        elif time.monotonic() >= deadline:
            return False
        else:
            time.sleep(0.05)
    return True


def _group_gone(group: int, within: float) -> None:
    """Wait until no process of the group is left, so none writes to the profile once removed."""
    deadline = time.monotonic() + within
    while hasattr(os, "killpg") and time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except OSError:
            return
        time.sleep(0.05)


def _signal_group(group: int, sig: int) -> None:
    with contextlib.suppress(OSError):  # already gone
        if hasattr(os, "killpg"):
            os.killpg(group, sig)
        else:
            os.kill(group, signal.SIGTERM)  # Windows has no process groups: the browser itself


_running: set[Running] = set()
_stopping = False  # a signal handler is stopping the browsers
_previous: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}
HANDLED = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)


def stop_all() -> None:
    """Stop every browser this process started (at exit, on a signal)."""
    for running in list(_running):
        running.stop()


def _on_signal(number: int, frame: FrameType | None) -> None:
    """Stop the browsers, then do what was done for this signal before us (a handler, or the
    default: end the process with it). A second signal while stopping (closing a terminal
    sends SIGHUP, then often SIGTERM) waits for the cleanup instead of cutting it short."""
    global _stopping
    if _stopping:
        return
    _stopping = True
    try:
        stop_all()
    finally:
        _stopping = False
    previous = _previous.get(number)
    if callable(previous):
        previous(number, frame)
    elif previous != signal.SIG_IGN:
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)


def stop_browsers_on_exit() -> None:
    """Once per process: stop the browsers at exit and on SIGTERM/SIGHUP (terminal closed) and
    SIGINT. Signal handlers can only be set from the main thread: elsewhere, atexit only."""
    if _previous or not HANDLED:
        return
    atexit.register(stop_all)
    if threading.current_thread() is not threading.main_thread():
        return
    for number in HANDLED:
        _previous[number] = signal.getsignal(number)
        signal.signal(number, _on_signal)


def prepare(
    proxy: str,
    url: str | None = None,
    *,
    browser_path: str | None = None,
    headless: bool = False,
    confdir: Path = CONFDIR,
) -> Launch:
    """Everything needed to start a browser through ``proxy`` (host:port), nothing started yet."""
    browser = find(browser_path)
    profile = Path(tempfile.mkdtemp(prefix="wsinspect-browser-"))
    ca = ca_certificate(confdir)
    if browser.family == "chromium":
        command = chromium_command(browser, proxy, profile, spki_pin(ca), url, headless)
        return Launch(browser, command, profile, [])
    command = firefox_command(browser, proxy, profile, url, headless)
    hint = import_ca(profile, ca)
    return Launch(browser, command, profile, [hint] if hint else [])
