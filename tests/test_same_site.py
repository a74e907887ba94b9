"""What the cross-site hijacking check calls one site: the browsers' definition, with the Public
Suffix List (private entries such as github.io included), not the last two labels."""

from __future__ import annotations

import pytest

from tests.test_diagnose_wire import attempt, upgraded
from wsinspect.diagnose import diagnose
from wsinspect.diagnose.facts import parse_endpoint


@pytest.mark.parametrize(
    "page, server, same",
    [
        ("https://evil.co.uk", "wss://bank.co.uk/ws", False),  # co.uk is a public suffix
        ("https://a.github.io", "wss://b.github.io/ws", False),  # github.io: a private entry
        ("https://x.blogspot.com", "wss://y.blogspot.com/ws", False),
        ("https://app.example.com", "wss://api.example.com/ws", True),
        ("https://www.bank.co.uk", "wss://ws.bank.co.uk/ws", True),
        ("https://EXAMPLE.com.", "wss://api.example.com/ws", True),  # case, trailing dot
        ("http://app.example.com", "wss://app.example.com/ws", False),  # http vs https
        ("https://app.example.com", "ws://app.example.com/ws", False),
        ("http://app.example.com", "ws://app.example.com/ws", True),  # ws counts as http
        ("http://127.0.0.1:5173", "ws://127.0.0.1:8080/ws", True),  # ports play no part
        ("http://127.0.0.1:5173", "ws://127.0.0.2:8080/ws", False),  # IPs compare exactly
        ("http://10.0.0.1", "ws://0.1/ws", False),  # not "the last two labels" of an IP
        ("http://[::1]:3000", "ws://[0:0:0:0:0:0:0:1]:8080/ws", True),
        ("http://localhost:5173", "ws://localhost:8080/ws", True),
        ("http://localhost:5173", "ws://127.0.0.1:8080/ws", False),
        ("http://a.localhost", "ws://b.localhost/ws", False),
        ("http://shop.internal", "ws://api.shop.internal/ws", True),  # unlisted TLD: *.internal
    ],
)
def test_same_site_as_browsers_define_it(page: str, server: str, same: bool):
    origin, target = parse_endpoint(page), parse_endpoint(server)
    assert origin is not None and target is not None
    assert (origin.site == target.site) is same


@pytest.mark.parametrize(
    "page, server, warned",
    [
        ("https://a.github.io", "wss://b.github.io/ws", True),
        ("https://evil.co.uk", "wss://bank.co.uk/ws", True),
        ("https://app.example.com", "wss://api.example.com/ws", False),
    ],
)
def test_the_hijacking_warning_fires_across_sites_that_share_a_public_suffix(
    page: str, server: str, warned: bool
):
    handshake = attempt(101, upgraded(), url=server, origin=page, extra=[("Cookie", "sid=1")])
    codes = [finding.code for finding in diagnose(handshake).findings]
    assert ("cross-origin-accepted" in codes) is warned
