"""TLS failures on either side of the proxy: the server's certificate refused by the proxy, or
the proxy's certificate refused by the client. Both are the proxy's doing as much as anyone's,
so each finding says what the browser would have seen without it.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from wsinspect.diagnose.stacks import Snippet
from wsinspect.model import Finding, TlsFailure

if TYPE_CHECKING:
    from wsinspect.diagnose.rules import Context

VERIFY_FAILED = "certificate verify failed"  # mitmproxy's words for a refused server certificate
CLIENT_FAILED = "TLS handshake with the client failed: "  # capture/tls.py's error: HAR, .mitm

# OpenSSL's verification errors -> what Chrome says of the same certificate, without the proxy.
CHROME_ERRORS = (
    ("expired", "net::ERR_CERT_DATE_INVALID"),
    ("not yet valid", "net::ERR_CERT_DATE_INVALID"),
    ("hostname mismatch", "net::ERR_CERT_COMMON_NAME_INVALID"),
    ("ip address mismatch", "net::ERR_CERT_COMMON_NAME_INVALID"),
    ("self-signed", "net::ERR_CERT_AUTHORITY_INVALID"),
    ("self signed", "net::ERR_CERT_AUTHORITY_INVALID"),
    ("local issuer", "net::ERR_CERT_AUTHORITY_INVALID"),
    ("revoked", "net::ERR_CERT_REVOKED"),
)

NEUTRAL: dict[str, Snippet] = {
    "upstream-cert-invalid": Snippet(
        "bash",
        "# wsinspect checks the server's certificate against the default roots. Add the CA\n"
        "# that signed it (it is added to the defaults, public servers keep working):\n"
        'wsinspect watch --upstream-ca "$(mkcert -CAROOT)/rootCA.pem"   # a mkcert dev server\n'
        "wsinspect watch --upstream-ca server.pem   # a self-signed certificate is its own CA\n"
        "# (record -o FILE takes it too.) If the certificate is wrong rather than private\n"
        "# (expired, another host's name), browsers refuse it too: fix the certificate.",
    ),
    "client-distrusts-proxy": Snippet(
        "bash",
        "# The client refused wsinspect's certificate: it does not trust wsinspect's CA.\n"
        "# Either let wsinspect start the browser (it trusts the CA, nothing is installed):\n"
        "wsinspect browser http://localhost:5173/\n"
        "# or trust the CA where that client looks for roots:\n"
        "CA=~/.mitmproxy/mitmproxy-ca-cert.pem\n"
        'NODE_EXTRA_CA_CERTS="$CA" node app.js          # Node\n'
        'SSL_CERT_FILE="$CA" python3 app.py             # Python: ssl, websockets, aiohttp\n'
        'REQUESTS_CA_BUNDLE="$CA" python3 app.py        # Python: requests\n'
        'curl --cacert "$CA" --proxy http://127.0.0.1:8877 https://…   # curl\n'
        "# Chrome/Chromium on Linux (its own NSS store; libnss3-tools):\n"
        'certutil -d "sql:$HOME/.pki/nssdb" -A -t "C,," -n wsinspect -i "$CA"\n'
        "# Firefox: Settings → Privacy & Security → Certificates → View Certificates →\n"
        "#   Authorities → Import… that file, 'Trust this CA to identify websites'\n"
        "# The system (Debian/Ubuntu: curl, wget, most programs):\n"
        'sudo cp "$CA" /usr/local/share/ca-certificates/wsinspect.crt\n'
        "sudo update-ca-certificates\n"
        "# macOS:\n"
        "sudo security add-trusted-cert -d -r trustRoot \\\n"
        '  -k /Library/Keychains/System.keychain "$CA"\n'
        "# Remove it when you are done: whoever has that CA's key can read such traffic.",
    ),
}


def _date(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def chrome_error(verification: str) -> str:
    lowered = verification.lower()
    return next((net for words, net in CHROME_ERRORS if words in lowered), "net::ERR_CERT_INVALID")


def upstream_cert_invalid(ctx: Context) -> Finding | None:
    """The proxy refused the server's certificate and answered the client itself (a 502)."""
    handshake = ctx.facts.handshake
    tls = handshake.tls
    error = handshake.error or ""
    if tls is not None and tls.side != "server":
        return None
    if tls is None and (handshake.response is not None or VERIFY_FAILED not in error.lower()):
        return None
    verification = tls.error if tls is not None else error
    if not any(word in verification.lower() for word in (VERIFY_FAILED, "certificate")):
        return None  # the server's TLS failed otherwise (it hung up, timed out): upstream-failed
    evidence = {"Verification": verification, "Host": ctx.facts.host or ""}
    expired = ""
    if tls is not None:
        evidence.update(_certificate(tls))
        if tls.not_after is not None and tls.not_after < handshake.started:
            expired = f" It had expired on {_date(tls.not_after)}."
    chrome = chrome_error(verification)
    return ctx.finding(
        "upstream-cert-invalid",
        "error",
        "The proxy did not trust the server's certificate",
        "wsinspect could not verify the certificate the server sent"
        f" ({verification}), so it did not connect and answered the client itself (502)."
        f"{expired} This is what a self-signed or mkcert dev certificate does: a browser that"
        " trusts that CA (mkcert installs it) would have connected without the proxy; one that"
        f" does not would have refused it as well: Chrome logs `WebSocket connection to '…'"
        f" failed: Error in connection establishment: {chrome}`.",
        evidence,
    )


def _certificate(tls: TlsFailure) -> dict[str, str]:
    if not tls.subject:
        return {}
    shown = {"Subject": tls.subject, "Issuer": tls.issuer}
    if tls.subject == tls.issuer:
        shown["Issuer"] += " (self-signed)"
    if tls.not_after is not None:
        shown["Expires"] = _date(tls.not_after)
    return shown


def client_distrusts_proxy(ctx: Context) -> Finding | None:
    """The client hung up on the proxy's certificate: the attempt never reached HTTP."""
    handshake = ctx.facts.handshake
    tls = handshake.tls
    error = handshake.error or ""
    if tls is not None and tls.side != "client":
        return None
    if tls is None and not error.startswith(CLIENT_FAILED):  # a HAR or .mitm keeps only this
        return None
    evidence = {
        "Client": handshake.client.address,
        "Destination": handshake.url,
        "TLS error": tls.error if tls is not None else error.removeprefix(CLIENT_FAILED),
    }
    repeats = ""
    if tls is not None:
        repeats = f" ({tls.count} times)" if tls.count > 1 else " (once)"
        evidence["Attempts"] = str(tls.count)
        if tls.last is not None:
            evidence["Last"] = _date(tls.last)
    return ctx.finding(
        "client-distrusts-proxy",
        "error",
        "The client does not trust wsinspect's certificate",
        f"The client broke off the TLS handshake with the proxy{repeats}: it does not trust "
        "the CA that signed the proxy's certificate for this host, so it sent no request and "
        "nothing of it reached the server. Its path, and whether it was a WebSocket at all, are "
        "unknown. In Chrome a page's wss:// fails with `net::ERR_CERT_AUTHORITY_INVALID`; "
        "Python raises `CERTIFICATE_VERIFY_FAILED`; Node `SELF_SIGNED_CERT_IN_CHAIN` or "
        "`unable to get local issuer certificate`.",
        evidence,
    )
