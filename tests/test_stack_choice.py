"""The user says which stack answers (``--stack``, the dashboard's w key) and gets its fix first;
the dashboard's choice is remembered per host:port for the next run.

The refusal is real: a server no fingerprint names (an empty ``403 Forbidden``, as many
frameworks and proxies answer) refuses a browser-like handshake through our proxy.
"""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import OptionList

from tests.conftest import Capture, until
from tests.helpers import run_cli
from tests.stack_wire import browse, upgrade
from tests.test_tui import SIZE, screen_text
from wsinspect.diagnose.stacks import REGISTRY
from wsinspect.sessions import load, save
from wsinspect.stack_choice import StackChoices, config_file
from wsinspect.tui.app import WsinspectApp
from wsinspect.tui.widgets.stack_picker import StackPicker

ORIGIN = "http://localhost:3000"
EMPTY_403 = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config folder of the test's own, for this process and the commands it starts."""
    folder = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    return folder


@pytest.fixture
async def refused(capture: Capture, tmp_path: Path) -> AsyncIterator[tuple[Path, int]]:
    """A session file holding one real refusal from a server nothing recognises, and its port."""

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(EMPTY_403)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        seen = await browse(capture.port, port, upgrade("/ws", ORIGIN))
        assert seen.received.startswith(b"HTTP/1.1 403")
        await capture.one()
        path = tmp_path / "refused.json"
        save(capture.session, path)
        yield path, port
    finally:
        server.close()


def first_fix(report: str) -> str:
    """The first fix the text report shows, its heading and snippet."""
    _, _, rest = report.partition("    fix for ")
    heading, _, snippet = rest.partition("\n")
    return heading + "\n" + snippet.split("    fix for ")[0]


async def test_named_stack_leads_with_its_fix_on_the_command_line(
    refused: tuple[Path, int], config: Path
) -> None:
    path, port = refused
    code, out, err = await run_cli("diagnose", str(path))
    assert code == 1, err
    assert first_fix(out).startswith("any stack"), out  # unknown: the neutral fix first
    assert "check_origin" not in first_fix(out)

    for named in ("Tornado", "tornado", f"127.0.0.1:{port}=Tornado"):
        code, out, err = await run_cli("diagnose", "--stack", named, str(path))
        assert code == 1, err
        fix = first_fix(out)
        assert fix.startswith("Tornado"), out
        assert "check_origin" in fix and ORIGIN in fix, fix  # its knob, with the origin seen
        assert "stack: Tornado (named by you) — you said this host runs Tornado" in out

    code, out, _ = await run_cli("diagnose", "--stack", "127.0.0.1:1=Tornado", str(path))
    assert first_fix(out).startswith("any stack"), "another host's stack is not this one's"

    report = path.with_suffix(".md")  # a report for a ticket carries the named stack's fix
    code, _, err = await run_cli("export", "--stack", "Tornado", str(path), "-o", str(report))
    assert code == 0, err
    assert "check_origin" in report.read_text()


async def test_an_unknown_stack_name_is_one_line_naming_close_ones(config: Path) -> None:
    code, _, err = await run_cli("diagnose", "--stack", "Tornadoo", "missing.json")
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "no stack named 'Tornadoo'; close: Tornado" in err, err
    code, _, err = await run_cli("diagnose", "--stack", "nohost=Tornado", "missing.json")
    assert code == 2 and "HOST:PORT" in err and err.count("\n") == 1, err


def pick(app: WsinspectApp, name: str | None) -> None:
    """Highlight ``name`` (None: "I don't know") in the open picker, as the arrow keys would."""
    options = app.screen.query_one(OptionList)
    names = [None, *(record.name for record in REGISTRY)]
    options.highlighted = names.index(name)


async def test_choosing_a_stack_in_the_dashboard_changes_the_fix_and_is_remembered(
    refused: tuple[Path, int], config: Path
) -> None:
    path, port = refused
    app = WsinspectApp(session=load(path), stacks=StackChoices.load())
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: "fix for any stack" in screen_text(app))
        assert "check_origin" not in screen_text(app)
        await pilot.press("w")
        await until(lambda: "I don't know" in screen_text(app))
        assert isinstance(app.screen, StackPicker)
        pick(app, "Tornado")
        await until(lambda: "Tornado  server" in screen_text(app))  # scrolled to it
        await pilot.press("enter")
        await until(lambda: "check_origin" in screen_text(app))
        drawn = screen_text(app)
        assert "check_origin" in drawn and ORIGIN in drawn, drawn
        assert "stack: Tornado (named by you) — you said this host runs Tornado" in drawn

    memory = config_file()
    assert memory.parent.parent == config
    assert json.loads(memory.read_text()) == {f"127.0.0.1:{port}": "Tornado"}
    assert stat.S_IMODE(memory.stat().st_mode) == 0o600

    again = WsinspectApp(session=load(path), stacks=StackChoices.load())  # the next run
    async with again.run_test(size=SIZE) as pilot:
        await until(lambda: "403" in screen_text(again))
        assert "check_origin" in screen_text(again), "the choice was not remembered"
        await pilot.press("w")
        await until(lambda: "Tornado  server  (chosen)" in screen_text(again))
        pick(again, None)  # "I don't know": back to what the wire says
        await pilot.press("enter")
        await until(lambda: "check_origin" not in screen_text(again))
        assert "fix for any stack" in screen_text(again)
    assert json.loads(memory.read_text()) == {}

    _, out, _ = await run_cli("diagnose", str(path))  # the command line reads it too
    assert first_fix(out).startswith("any stack")


async def test_a_remembered_choice_serves_the_command_line_and_loses_to_it(
    refused: tuple[Path, int], config: Path
) -> None:
    path, port = refused
    StackChoices.load().choose(f"127.0.0.1:{port}", "Tornado")
    _, out, _ = await run_cli("diagnose", str(path))
    assert first_fix(out).startswith("Tornado"), out
    _, out, _ = await run_cli("diagnose", "--stack", "aiohttp", str(path))
    assert first_fix(out).startswith("aiohttp"), out


async def test_a_corrupt_memory_is_one_warning_and_the_command_still_runs(
    refused: tuple[Path, int], config: Path
) -> None:
    path, _ = refused
    memory = config_file()
    memory.parent.mkdir(parents=True)
    memory.write_bytes(b'{"127.0.0.1:1": ["not", "a name"]')
    code, out, err = await run_cli("diagnose", str(path))
    assert code == 1
    assert err.count("\n") == 1 and "warning" in err and str(memory) in err, err
    assert "Traceback" not in err and first_fix(out).startswith("any stack")

    warnings: list[str] = []
    choices = StackChoices.load(warn=warnings.append)  # the dashboard starts with it too
    assert len(warnings) == 1
    app = WsinspectApp(session=load(path), stacks=choices)
    async with app.run_test(size=SIZE):
        await until(lambda: "fix for any stack" in screen_text(app))


def test_the_usage_page_names_every_stack_a_user_may_name() -> None:
    """The error for an unknown name points there: a stack added to the registry is listed."""
    page = (Path(__file__).parent.parent / "docs" / "usage.md").read_text()
    names = page.partition("Stack names: ")[2].partition("\n\n")[0]
    assert [record.name for record in REGISTRY if f"`{record.name}`" not in names] == []
