"""Node and Go stacks beyond the wire expectations: what the host's own pages add.

Next.js rewrites relay a refusal exactly as node-http-proxy does (lowercased header names); only
Next's own pages (``X-Powered-By: Next.js``) say whose proxy it is. The captured Next pages stop
at 4 KiB, mid-chunk, so a replay of them never finishes: their real header block goes through the
real site tally instead, as the proxy would feed it a finished page.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.test import tflow

from tests import stack_wire as wire
from wsinspect.capture.site import Sites
from wsinspect.diagnose import diagnose
from wsinspect.model import Diagnosis, Handshake, SiteEvidence

NEXT = Path(__file__).parent / "fixtures" / "stacks" / "next-proxy"


def site_of(page: Path) -> SiteEvidence:
    """The site evidence the proxy's tally keeps from a captured page's status and headers."""
    head = page.read_bytes().split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    fields = [tuple(line.split(": ", 1)) for line in head[1:]]
    flow = tflow.tflow(resp=True)
    flow.response = http.Response.make(
        int(head[0].split(" ")[1]), b"", [(k.encode(), v.encode()) for k, v in fields]
    )
    sites = Sites()
    sites.saw(flow)
    evidence = sites.evidence(flow.request)
    assert evidence is not None
    return evidence


@pytest.fixture(scope="module")
def same_host_refused() -> Handshake:
    """Gorilla's refusal of the dev page's own origin, relayed by Next's rewrite, through the
    real proxy."""
    case = next(c for c in wire.handshake_cases() if c.id == "next-proxy/same_host_refused")
    handshake = asyncio.run(wire.replay_all([case]))[case.id].handshake
    assert handshake is not None
    return handshake


def diagnosed(handshake: Handshake, site: SiteEvidence | None) -> Diagnosis:
    """The same answer, as if the host had (or had not) served these pages before it."""
    handshake.site = site
    return diagnose(handshake)


def test_next_pages_name_the_proxy_in_front(same_host_refused: Handshake) -> None:
    diagnosis = diagnosed(same_host_refused, site_of(NEXT / "page.http"))
    finding = diagnosis.findings[0]
    assert finding.code == "origin-rejected"
    assert "behind a Next.js rewrite" in finding.explanation
    assert diagnosis.stack is not None and diagnosis.stack.name == "gorilla/websocket"
    assert any(e.startswith("behind Next.js rewrites:") for e in diagnosis.stack.evidence)
    # the server's own list leads (with the dev page's origin), Next's rewrite follows
    origin = same_host_refused.request.headers.get("Origin")
    assert [f.stack for f in finding.fixes[:2]] == ["gorilla/websocket", "Next.js rewrites"]
    assert f'"{origin}"' in finding.fixes[0].snippet
    assert "changeOrigin" in finding.fixes[1].snippet and "rewrites()" in finding.fixes[1].snippet


def test_without_its_pages_the_proxy_is_a_node_dev_proxy(same_host_refused: Handshake) -> None:
    diagnosis = diagnosed(same_host_refused, None)
    assert diagnosis.stack is not None
    behind = [e for e in diagnosis.stack.evidence if e.startswith("behind ")]
    assert behind and all("Next.js rewrites:" not in e for e in behind)
    assert "dev-server proxy" in diagnosis.findings[0].explanation
