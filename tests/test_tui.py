"""The dashboard driven as a user would (Textual's pilot), over live traffic through its proxy."""

from __future__ import annotations

from textual.strip import Strip
from textual.widgets import Input
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.conftest import until
from tests.helpers import taken_port
from tests.test_diagnose_wire import attempt, upgraded
from wsinspect.capture.proxy import ProxyConfig
from wsinspect.diagnose import diagnosis_of
from wsinspect.model import Close, Session, WebSocketSummary
from wsinspect.sessions import load, save
from wsinspect.tui.app import LiveOptions, WsinspectApp
from wsinspect.tui.widgets.handshake_list import HandshakeList
from wsinspect.tui.widgets.rendered_view import RenderedView

SIZE = (160, 45)


def shown(app: WsinspectApp, widget_id: str) -> str:
    """The text a detail tab shows, as a person would read it."""
    return app.query_one(f"#{widget_id}", RenderedView).text


def drawn(app: WsinspectApp) -> list[Strip]:
    """The screen's lines as the terminal gets them, styles (actions, links) included."""
    return app.screen._compositor.render_strips()


def screen_text(app: WsinspectApp) -> str:
    """What a person sees on the whole screen, toasts included."""
    return "\n".join(strip.text for strip in drawn(app))


def list_text(app: WsinspectApp) -> str:
    """What the handshake list draws on the screen."""
    region = app.query_one(HandshakeList).region
    lines = drawn(app)[region.y : region.bottom]
    return "\n".join(strip.crop(region.x, region.right).text for strip in lines)


def row_styles(app: WsinspectApp, row: int) -> set[str]:
    strip = app.query_one(HandshakeList).render_line(row + 1)
    return {
        str(segment.style.color.name) for segment in strip if segment.style and segment.style.color
    }


def sample_session() -> Session:
    session = Session(created=0.0)
    items = [
        attempt(101, upgraded(), origin="http://127.0.0.1:8080", url="ws://127.0.0.1:8080/live"),
        attempt(
            403,
            [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")],
            'request Origin "http://localhost:5173" is not authorized for Host "127.0.0.1:8080"\n',
            url="ws://127.0.0.1:8080/chat",
        ),
        attempt(
            101,
            upgraded(),
            origin="http://127.0.0.1:8080",
            url="ws://127.0.0.1:8080/graphql",
            extra=[("Sec-WebSocket-Protocol", "graphql-transport-ws")],
        ),
    ]
    for number, handshake in enumerate(items):
        handshake.id = f"h{number}"
        handshake.started = 1_700_000_000.0 + number
        if handshake.websocket is None and handshake.status == 101:
            handshake.websocket = WebSocketSummary()
        session.add(handshake)
    return session


async def test_live_refusal_turns_red_and_shows_origin_evidence_and_fix():
    app = WsinspectApp(live=LiveOptions(proxy=ProxyConfig(port=0)))
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.proxy is not None)
        async with serve(
            lambda ws: ws.wait_closed(), "127.0.0.1", 0, origins=[Origin("http://a.test")]
        ) as server:
            port = server.sockets[0].getsockname()[1]
            try:
                async with connect(
                    f"ws://127.0.0.1:{port}/chat",
                    proxy=f"http://127.0.0.1:{app.proxy.port}",
                    origin=Origin("http://localhost:5173"),
                ):
                    pass
            except InvalidStatus:
                pass
        await until(lambda: app.query_one(HandshakeList).listed_count == 1)
        await pilot.pause(0.2)
        assert "red" in row_styles(app, 0)
        findings = shown(app, "detail-findings")
        assert "origin-rejected" in findings
        assert (
            "Origin   http://localhost:5173" in findings
            or "Origin  http://localhost:5173" in findings
        )
        assert 'origins=["http://localhost:5173"]' in findings
        assert "1 handshakes · 1 failed" in str(app.status.counts)
        await pilot.press("c")
        assert 'origins=["http://localhost:5173"]' in app.clipboard
        await app.stop_proxy()


async def test_filter_and_failures_only():
    app = WsinspectApp(session=sample_session())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        listing = app.query_one(HandshakeList)
        assert listing.listed_count == 3
        await pilot.press("slash", *"graphql")
        await pilot.pause()
        assert [h.url for h in listing.listed()] == ["ws://127.0.0.1:8080/graphql"]
        await pilot.press("escape")  # back to the list; the filter text stays
        app.query_one("#filter", Input).value = ""
        await pilot.pause()
        assert listing.listed_count == 3
        await pilot.press("x")
        await pilot.pause()
        assert [diagnosis_of(h).verdict for h in listing.listed()] == ["error", "error"]
        await pilot.press("slash", *"origin-rejected")
        await pilot.pause()
        assert [h.url for h in listing.listed()] == ["ws://127.0.0.1:8080/chat"]


async def test_selecting_moves_the_detail_and_tabs_switch():
    app = WsinspectApp(session=sample_session())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "subprotocol-not-selected" in shown(app, "detail-findings")  # follows the newest
        await pilot.press("up")
        await pilot.pause()
        assert "coder/websocket" in shown(app, "detail-findings")
        await pilot.press("3")
        await pilot.pause()
        assert "403" in shown(app, "detail-response")
        assert "is not authorized for Host" in shown(app, "detail-response")


async def test_save_from_the_ui_writes_a_session(tmp_path):
    app = WsinspectApp(session=sample_session())
    target = tmp_path / "from-ui.json"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        field = app.screen.query_one("#save-path", Input)
        field.value = str(target)
        await pilot.press("enter")
        await pilot.pause()
    assert len(load(target)) == 3
    assert [diagnosis_of(h).verdict for h in load(target)] == ["ok", "error", "error"]


async def test_open_shows_a_saved_session(tmp_path):
    path = tmp_path / "saved.json"
    save(sample_session(), path)
    app = WsinspectApp(session=load(path))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.query_one(HandshakeList).listed_count == 3
        assert "saved session" in str(app.status.render())


async def test_busy_port_is_shown_with_the_way_out():
    with taken_port() as port:
        app = WsinspectApp(live=LiveOptions(proxy=ProxyConfig(port=port)))
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: app.status.error)
            assert "in use" in app.status.error and "Press n" in app.status.error
            await pilot.press("n")
            await until(lambda: app.proxy is not None)
            assert app.proxy.port != port
            assert not app.status.error
            await app.stop_proxy()


async def test_messages_tab_explains_the_close():
    session = sample_session()
    live = session.get("h0")
    live.websocket.close = Close(4401, "Unauthorized", "server")
    app = WsinspectApp(session=session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("home", "4")
        await pilot.pause()
        text = shown(app, "detail-messages")
        assert "closed by the server: 4401" in text
        assert "graphql-ws: unauthorized" in text


async def test_redaction_is_the_same_in_every_view_and_r_redraws_them_all():
    secret = "abc123xyz"
    by_query = attempt(
        403,
        [("Content-Type", "text/plain")],
        "Origin not allowed\n",
        url=f"ws://h.test/a?t={secret}",
        extra=[("X-Auth-Token", secret)],
    )
    # a 404: its top fix, the one `c` copies, quotes the path
    by_path = attempt(404, [], "", url=f"ws://h.test/live;jsessionid={secret}")
    session = Session(created=0.0)
    for number, handshake in enumerate((by_query, by_path)):
        handshake.id = f"h{number}"
        session.add(handshake)
    app = WsinspectApp(session=session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("home", "2")  # the list row, and the request tab drawn
        await pilot.pause()
        assert secret not in screen_text(app)
        assert "ws://h.test/a?t=[redacted]" in list_text(app)
        assert "X-Auth-Token: [redacted]" in screen_text(app)
        await pilot.press("down", "c")
        assert "/live;jsessionid=[redacted]" in app.clipboard and secret not in app.clipboard

        await pilot.press("r", "up")
        await pilot.pause()
        assert f"ws://h.test/a?t={secret}" in list_text(app)
        assert f"X-Auth-Token: {secret}" in screen_text(app)
        await pilot.press("down", "c")
        assert f"/live;jsessionid={secret}" in app.clipboard
        await pilot.press("1")  # the findings, drawn with the secret shown
        await pilot.pause()
        assert secret in screen_text(app)

        await pilot.press("r")
        await pilot.pause()
        # The request tab, drawn while shown and now hidden, keeps nothing to flash when opened.
        assert secret not in shown(app, "detail-request")
        for tab in "12345":
            await pilot.press(tab)
            await pilot.pause()
            assert secret not in screen_text(app), f"tab {tab}"
        await pilot.press("up")
        await pilot.pause()
        assert secret not in screen_text(app)


async def test_failures_only_draws_the_errors_and_the_warnings_not_the_ok():
    """``x`` narrows the list to what needs attention: a warning needs it as much as an error."""
    session = Session(created=0.0)
    items = [
        attempt(101, upgraded(), origin="http://127.0.0.1:8080", url="ws://127.0.0.1:8080/fine"),
        attempt(
            101,
            upgraded(),
            origin="http://127.0.0.1:8080",
            url="ws://127.0.0.1:8080/crashing",
            close=Close(1011, "internal error", "server"),
        ),
        attempt(403, [("Content-Type", "text/plain")], "Forbidden\n", url="ws://h.test/refused"),
    ]
    for number, handshake in enumerate(items):
        handshake.id = f"h{number}"
        session.add(handshake)
    assert [diagnosis_of(h).verdict for h in session] == ["ok", "warning", "error"]
    app = WsinspectApp(session=session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "/fine" in list_text(app)
        await pilot.press("x")
        await pilot.pause()
        rows = list_text(app)
        assert "/crashing" in rows and "/refused" in rows
        assert "/fine" not in rows
        await pilot.press("x")  # and back
        await pilot.pause()
        assert "/fine" in list_text(app)


async def test_a_captured_cookie_and_token_are_not_drawn_by_default():
    """Screen sharing is safe without pressing anything: no tab, nor the list, draws them."""
    secret = "s3cr3tvalue"
    handshake = attempt(
        101,
        upgraded(),
        origin="http://127.0.0.1:8080",
        url=f"ws://h.test/?token={secret}",
        extra=[("Cookie", f"theme=dark; prefs={secret}")],  # no secret-looking name
    )
    session = Session(created=0.0)
    session.add(handshake)
    app = WsinspectApp(session=session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "token=[redacted]" in list_text(app)
        for tab in "12345":
            await pilot.press(tab)
            await pilot.pause()
            assert secret not in screen_text(app), f"tab {tab}"
        await pilot.press("2")
        await pilot.pause()
        assert "Cookie: [redacted]" in screen_text(app)
