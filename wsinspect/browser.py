"""A browser that sends its WebSocket traffic through the proxy, set up the way that works.

Done by hand this fails in ways that look like wsinspect is broken: Chromium never proxies
localhost unless ``<-loopback>`` is in the bypass list, wss:// fails until the proxy's CA is
trusted, and a system proxy setting catches every other application. So: a fresh temporary
profile, the proxy set for that profile only, loopback captured, and the CA trusted for that
profile only (Chromium: ``--ignore-certificate-errors-spki-list`` with the CA's key pin).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
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


def find(explicit: str | None = None) -> Browser:
    """The browser to start: ``explicit`` if given, else the first Chromium-family, else Firefox."""
    if explicit:
        path = shutil.which(explicit) or explicit
        if not Path(path).is_file():
            raise BrowserError(f"no browser at {explicit}")
        family = "firefox" if "firefox" in Path(path).name.lower() else "chromium"
        return Browser(path, family)
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


def firefox_command(
    browser: Browser, proxy: str, profile: Path, url: str | None, headless: bool
) -> list[str]:
    host, _, port = proxy.rpartition(":")
    (profile / "user.js").write_text(FIREFOX_PREFS.format(host=host.strip("[]"), port=port))
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


@dataclass
class Launch:
    """A prepared browser start: the command line, its temporary profile, what to tell the user."""

    browser: Browser
    command: list[str]
    profile: Path
    notes: list[str]

    def start(self) -> subprocess.Popen[bytes]:
        try:
            return subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as e:
            self.remove_profile()
            raise BrowserError(f"cannot start {self.browser.path}: {e.strerror}") from None

    def remove_profile(self) -> None:
        shutil.rmtree(self.profile, ignore_errors=True)


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
    return Launch(browser, command, profile, [FIREFOX_CA_HINT.format(ca=ca)])
