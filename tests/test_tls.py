"""TLS on both sides of the proxy, with real certificates made here and real TLS servers.

Upstream: the trust store the proxy checks servers against (``--upstream-ca`` adds to it) and a
server whose certificate it cannot verify. Downstream: a client that does not trust our CA.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.server import Server, ServerConnection, serve

from tests.conftest import require_program, until
from wsinspect.capture.proxy import ProxyConfig, ProxyError
from wsinspect.capture.service import Capture
from wsinspect.diagnose import diagnosis_of
from wsinspect.model import Session
from wsinspect.sessions import load, save

ONE_DAY = datetime.timedelta(days=1)


@dataclass
class Authority:
    """A certificate authority of our own, like mkcert's or a public one's."""

    name: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def make(cls, name: str) -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - ONE_DAY)
            .not_valid_after(now + 30 * ONE_DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(name, key, cert)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(self, folder: Path) -> Path:
        path = folder / f"{self.name.replace(' ', '-')}.pem"
        path.write_bytes(self.pem)
        return path

    def server_context(self, folder: Path, host: str = "127.0.0.1") -> ssl.SSLContext:
        """A TLS server context whose certificate for ``host`` this authority signed."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - ONE_DAY)
            .not_valid_after(now + 30 * ONE_DAY)
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), False
            )
            .sign(self.key, hashes.SHA256())
        )
        stem = folder / f"leaf-{self.name.replace(' ', '-')}"
        cert_path, key_path = stem.with_suffix(".pem"), stem.with_suffix(".key")
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        return context


@asynccontextmanager
async def wss_server(context: ssl.SSLContext) -> AsyncIterator[int]:
    """A real WebSocket server over TLS; yields its port."""

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    server: Server = await serve(echo, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def proxy(
    upstream_ca: Path | None = None, separate: bool = False
) -> AsyncIterator[tuple[int, Session]]:
    """Our proxy in this process (record's), or in a child feeding this one (watch's)."""
    config = ProxyConfig(port=0, upstream_ca=str(upstream_ca) if upstream_ca else None)
    start = Capture.separate if separate else Capture.embedded
    async with start(config) as capture:
        yield capture.port, capture.session


def trusting_our_ca() -> ssl.SSLContext:
    """A client that trusts the proxy's CA (mitmproxy's default confdir, made when it started)."""
    context = ssl.create_default_context(
        cafile=str(Path.home() / ".mitmproxy/mitmproxy-ca-cert.pem")
    )
    return context


async def upgrade_through(
    proxy_port: int, port: int, client: ssl.SSLContext, path: str = "/chat"
) -> str:
    """A wss:// opening handshake through the proxy (CONNECT, TLS, the upgrade request), as a
    browser sends it; returns the status line that came back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    try:
        writer.write(
            f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        )
        connected = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert connected.startswith(b"HTTP/1.1 200"), connected
        await writer.start_tls(client, server_hostname="127.0.0.1")
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        return head.split(b"\r\n", 1)[0].decode()
    finally:
        writer.close()


@pytest.fixture
def public_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Authority:
    """A CA in the default trust store: mitmproxy reads its defaults from ``certifi.where()``
    (mitmproxy/net/tls.py), so the default store here is a bundle holding this CA."""
    authority = Authority.make("Public Root CA")
    bundle = tmp_path / "default-roots.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + authority.pem)
    monkeypatch.setattr(certifi, "where", lambda: str(bundle))
    return authority


async def test_upstream_ca_adds_to_the_default_roots(tmp_path: Path, public_ca: Authority) -> None:
    """With --upstream-ca (a mkcert-like CA), servers it signed work, and so do public ones."""
    mine = Authority.make("mkcert development CA")
    async with (
        wss_server(mine.server_context(tmp_path)) as dev_port,
        wss_server(public_ca.server_context(tmp_path)) as public_port,
        proxy(upstream_ca=mine.write(tmp_path)) as (proxy_port, session),
    ):
        dev = await upgrade_through(proxy_port, dev_port, trusting_our_ca())
        public = await upgrade_through(proxy_port, public_port, trusting_our_ca())
    assert dev.startswith("HTTP/1.1 101"), dev
    assert public.startswith("HTTP/1.1 101"), public
    assert [h.status for h in session] == [101, 101]


async def test_a_server_certificate_the_proxy_cannot_verify_has_its_own_finding(
    tmp_path: Path,
) -> None:
    """A self-signed dev server: the proxy answers 502 itself; the finding shows the certificate
    and the verification error, and the fix is --upstream-ca, not "start the server"."""
    dev = Authority.make("dev server self-signed")
    async with (
        wss_server(dev.server_context(tmp_path)) as port,
        proxy() as (proxy_port, session),
    ):
        status = await upgrade_through(proxy_port, port, trusting_our_ca())
        await until(lambda: any(h.error for h in session))
    assert status.startswith("HTTP/1.1 502"), status
    (handshake,) = session
    findings = diagnosis_of(handshake).findings
    assert [f.code for f in findings] == ["upstream-cert-invalid"]
    evidence = findings[0].evidence
    assert "unable to get local issuer certificate" in evidence["Verification"]
    assert evidence["Subject"] == "CN=127.0.0.1"
    assert evidence["Issuer"] == "CN=dev server self-signed"
    expires = dev.cert.not_valid_after_utc  # the leaf is made to expire on the same day
    assert evidence["Expires"].startswith(expires.strftime("%Y-%m-%d"))
    assert "net::ERR_CERT_AUTHORITY_INVALID" in findings[0].explanation
    fix = "\n".join(f.snippet for f in findings[0].fixes)
    assert "--upstream-ca" in fix and "mkcert -CAROOT" in fix


@pytest.mark.parametrize("separate", [False, True], ids=["record", "watch"])
async def test_a_client_that_does_not_trust_our_ca_is_recorded_once_per_destination(
    tmp_path: Path, separate: bool
) -> None:
    """A Python client with the default trust store: before, nothing anywhere. Now one attempt
    per client and destination, its repeats counted, and the fix per client; in the dashboard's
    proxy process too, which forgets what it has sent."""
    server = Authority.make("public-ish")
    async with (
        wss_server(server.server_context(tmp_path)) as port,
        proxy(separate=separate) as (proxy_port, session),
    ):
        for _ in range(3):
            with pytest.raises(ssl.SSLCertVerificationError):
                await upgrade_through(proxy_port, port, ssl.create_default_context())
            await asyncio.sleep(0.3)  # a client retrying: the feed has sent (and forgotten) it
        await until(lambda: any(h.tls is not None and h.tls.count == 3 for h in session))
    assert len(session) == 1
    (handshake,) = session
    assert handshake.url == f"wss://127.0.0.1:{port}/"
    assert handshake.client.address.startswith("127.0.0.1:")
    findings = diagnosis_of(handshake).findings
    assert [f.code for f in findings] == ["client-distrusts-proxy"]
    assert findings[0].evidence["Attempts"] == "3"
    assert "trust" in findings[0].evidence["TLS error"]
    fix = "\n".join(f.snippet for f in findings[0].fixes)
    for command in ("wsinspect browser", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "--cacert"):
        assert command in fix


PAGE = """<!doctype html><title>app</title><script>
new WebSocket({url!r});
</script>"""


@asynccontextmanager
async def page_server(page: str) -> AsyncIterator[int]:
    """The developer's app on http://localhost: a page that opens a wss:// elsewhere."""
    body = page.encode()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:  # Chromium's spare preconnection, closed unused
            writer.close()
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_chromium_that_does_not_trust_our_ca_leaves_a_recorded_attempt(
    tmp_path: Path,
) -> None:
    """Chromium through the proxy without wsinspect's pin (a user's own browser): its wss://
    attempt used to be missing altogether."""
    chromium = require_program("chromium", "apt-get install chromium")
    server = Authority.make("some server")
    target = ""
    async with (
        wss_server(server.server_context(tmp_path)) as port,
        page_server(PAGE.format(url=f"wss://127.0.0.1:{port}/live")) as page_port,
        proxy() as (proxy_port, session),
    ):
        target = f"wss://127.0.0.1:{port}/"
        process = await asyncio.create_subprocess_exec(
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--proxy-server=http://127.0.0.1:{proxy_port}",
            "--proxy-bypass-list=<-loopback>",
            f"http://localhost:{page_port}/",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await until(lambda: any(h.url == target for h in session), timeout=30)
        finally:
            process.kill()
            await process.wait()
    # Chromium's own background requests (update.googleapis.com…) fail the same way: their rows
    # are as true, each under its own destination.
    (handshake,) = [h for h in session if h.url == target]
    finding = diagnosis_of(handshake).findings[0]
    assert finding.code == "client-distrusts-proxy"
    assert "does not trust" in finding.evidence["TLS error"]


@pytest.mark.parametrize("extension", ["json", "har", "mitm"])
async def test_tls_findings_survive_every_file_format(tmp_path: Path, extension: str) -> None:
    """A HAR or flow file has no place for the certificate: its error text alone still names
    the finding, never "no answer: start the server"."""
    dev, other = Authority.make("dev"), Authority.make("other")
    async with (
        wss_server(dev.server_context(tmp_path)) as dev_port,
        wss_server(other.server_context(tmp_path)) as other_port,
        proxy() as (proxy_port, session),
    ):
        await upgrade_through(proxy_port, dev_port, trusting_our_ca())
        with pytest.raises(ssl.SSLCertVerificationError):
            await upgrade_through(proxy_port, other_port, ssl.create_default_context())
        await until(lambda: len(session) == 2 and all(h.error for h in session))
    path = tmp_path / f"capture.{extension}"
    save(session, path)
    codes = {h.url: [f.code for f in diagnosis_of(h).findings] for h in load(path)}
    assert codes == {
        f"wss://127.0.0.1:{dev_port}/chat": ["upstream-cert-invalid"],
        f"wss://127.0.0.1:{other_port}/": ["client-distrusts-proxy"],
    }


async def test_an_upstream_ca_that_is_not_a_pem_certificate_is_said_at_start(
    tmp_path: Path,
) -> None:
    """Not at the first wss:// connection, as a 502 that blames the server."""
    der = tmp_path / "rootCA.der"
    der.write_bytes(Authority.make("mkcert").cert.public_bytes(serialization.Encoding.DER))
    with pytest.raises(ProxyError, match=r"no PEM certificate in .*rootCA\.der"):
        async with proxy(upstream_ca=der):
            pass
