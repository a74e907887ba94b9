"""Snapshots of the main screens (pytest-textual-snapshot), on a fixed session in UTC.

After an intended change of the UI: pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import os
import time

import pytest

from tests.test_tui import SIZE, sample_session
from wsinspect.model import Close, Message
from wsinspect.tui.app import WsinspectApp


@pytest.fixture(autouse=True)
def utc():
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if previous is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = previous
    time.tzset()


def app() -> WsinspectApp:
    session = sample_session()
    live = session.get("h0")
    sent = [
        Message.of(
            "client" if number % 2 == 0 else "server",
            1_700_000_000.5 + number,
            1,
            12,
            b'{"op":"ping"}',
        )
        for number in range(3)
    ]
    live.websocket.messages = [*live.websocket.messages, *sent]
    live.websocket.close = Close(1000, "bye", "client", 1_700_000_004.0)
    return WsinspectApp(session=session)


def test_origin_refusal_selected(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, press=["up"])


def test_subprotocol_ignored(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE)


def test_messages_tab(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, press=["home", "4"])
