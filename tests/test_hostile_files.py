"""Crafted and damaged session files: reading, the diagnosis, every report and every writer.

Seeds are real: Chrome's HAR of a capture (tests/fixtures/chrome.har), the same handshakes written
by our own writers as a native session and as mitmproxy flows. Each fuzzer changes one part of a
seed into something hostile (another type, a huge, negative or not-a-number value, a dict where a
string is, deep nesting, a cut) and runs what `diagnose`, `open` and `export` run. The only
failure allowed is the clean one: ``InputError``, a line naming the file.
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from mitmproxy.io import tnetstring

from wsinspect import report
from wsinspect.diagnose import diagnosis_of
from wsinspect.sessions import InputError, load, native, save

FIXTURES = Path(__file__).parent / "fixtures"
WRITTEN = (".json", ".har", ".mitm", ".md")

# -- what a crafted file puts where a value was --------------------------------------------------

NUMBERS = [1e300, -1e300, 1e-300, -1, -(2**63), 2**64, 10**40, 0, 65536, 1000, math.inf, math.nan]
STRINGS = ["", "\ud800", "x" * 5000, "1e300", "ws://[::1", "ws://h:99999/", "\x00\x1b[2J", "-1"]


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for level in range(levels):
        value = [value] if level % 2 else {"a": value}
    return value


scalars = st.sampled_from([*NUMBERS, *STRINGS, True, False, None])
hostile = st.recursive(
    scalars | st.integers() | st.floats() | st.text(max_size=8) | st.builds(deep, st.just(40)),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def paths_of(tree: Any) -> list[tuple]:
    """Every place in a decoded document, parents before children."""
    found: list[tuple] = []

    def walk(node: Any, path: tuple) -> None:
        found.append(path)
        if isinstance(node, dict):
            for key, child in node.items():
                walk(child, (*path, key))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, (*path, index))

    walk(tree, ())
    return found[1:]


@st.composite
def mutated(draw: st.DrawFn, tree: Any, swaps: list[Any] | None = None) -> Any:
    """``tree`` with one to three of its parts replaced by a hostile value, or deleted."""
    tree = _copy(tree)
    values = hostile if swaps is None else st.sampled_from(swaps).map(_copy) | hostile
    paths = paths_of(tree)
    for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)):
        parent = tree
        try:
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]]  # still there? an earlier change may have replaced a parent
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(parent, dict | list):  # replaced by a hostile value (bytes, a str)
            continue
        if isinstance(parent, dict) and draw(st.integers(0, 4)) == 0:
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(values)
    return tree


def _copy(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _copy(v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return [_copy(v) for v in tree]
    return tree


# -- what every command does with a file ---------------------------------------------------------


def survives(data: bytes, name: str) -> None:
    """Load ``data`` as `diagnose`, `open` and `export` do, then report and write it in every
    format, and read back what was written: any exception but InputError fails the test."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        warnings: list[str] = []
        try:
            session = load(path, warnings.append)
        except InputError as e:
            assert "\n" not in str(e) and str(path) in str(e)
            return
        assert all("\n" not in w for w in warnings), warnings
        handshakes = list(session)
        for handshake in handshakes:
            diagnosis_of(handshake)
        report.text(handshakes)
        report.as_json(handshakes)
        report.markdown(handshakes)
        for extension in WRITTEN:
            out = Path(folder) / f"out{extension}"
            save(session, out, redact=extension != ".json")
            if extension != ".md" and len(session):
                again = load(out)  # what we write, we read
                assert len(again) == len(session), extension


# ~5-10 s each in CI; WSINSPECT_FUZZ_EXAMPLES=5000 fuzzes for longer
EXAMPLES = int(os.environ.get("WSINSPECT_FUZZ_EXAMPLES", "120"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck.__members__.values()),
)


def har_seed() -> dict:
    return json.loads((FIXTURES / "chrome.har").read_text())


def native_seed() -> dict:
    return json.loads(native.dumps(load(FIXTURES / "chrome.har")))


def flow_states() -> list[Any]:
    data = (FIXTURES / "chrome.mitm").read_bytes()
    stream, states = io.BytesIO(data), []
    while stream.tell() < len(data):
        states.append(tnetstring.load(stream))
    return states


HAR, NATIVE, FLOWS = har_seed(), native_seed(), flow_states()


def as_json(tree: Any) -> bytes:
    return json.dumps(tree, allow_nan=True).encode("utf-8", "surrogatepass")


@SETTINGS
@given(data=st.data())
def test_crafted_har_files(data: st.DataObject) -> None:
    survives(as_json(data.draw(mutated(HAR))), "crafted.har")


@SETTINGS
@given(data=st.data())
def test_crafted_native_sessions(data: st.DataObject) -> None:
    survives(as_json(data.draw(mutated(NATIVE))), "crafted.json")


# mitmproxy's state holds bytes where JSON has strings: swap those in too
FLOW_SWAPS = [b"", b"\xff\xfe", b"x" * 5000, {b"k": b"v"}, [b"a", b"b"], [[b"a"]], 12.5, "str"]


@SETTINGS
@given(data=st.data())
def test_crafted_mitmproxy_flow_files(data: st.DataObject) -> None:
    states = data.draw(mutated(FLOWS, FLOW_SWAPS))
    try:
        blob = b"".join(tnetstring.dumps(state) for state in states)
    except UnicodeEncodeError:  # a lone surrogate: no flow file can hold one
        assume(False)
    survives(blob, "crafted.mitm")


@settings(
    max_examples=60, deadline=None, suppress_health_check=list(HealthCheck.__members__.values())
)
@given(seed=st.sampled_from(["chrome.har", "chrome.mitm", "native"]), cut=st.floats(0, 1))
def test_cut_and_flipped_files(seed: str, cut: float) -> None:
    data = as_json(NATIVE) if seed == "native" else (FIXTURES / seed).read_bytes()
    at = int(len(data) * cut)
    survives(data[:at], seed)
    flipped = bytearray(data)
    if flipped:
        flipped[min(at, len(data) - 1)] ^= 0xFF
    survives(bytes(flipped), seed)


@pytest.mark.parametrize("levels", [2_000, 200_000])
def test_deeply_nested_values(levels: int) -> None:
    """Nesting deeper than any parser's stack, where a string or a list of messages is."""
    nested = b"[" * levels + b"]" * levels
    for seed, where in ((HAR, ("log", "entries", 2, "request", "url")), (NATIVE, ("created",))):
        tree = _copy(seed)
        parent = tree
        for key in where[:-1]:
            parent = parent[key]
        parent[where[-1]] = "PLACEHOLDER"
        survives(as_json(tree).replace(b'"PLACEHOLDER"', nested), "deep.json")
    survives(nested_tnetstring(levels), "deep.mitm")


def nested_tnetstring(levels: int) -> bytes:
    """``[[[…null…]]]`` as mitmproxy's framing writes it: each list prefixed with its length."""
    prefixes, length = [], 3  # b"0:~" is null
    for _ in range(levels):
        prefixes.append(b"%d:" % length)
        length += len(prefixes[-1]) + 1
    return b"".join(reversed(prefixes)) + b"0:~" + b"]" * levels


# -- the cases the first fuzzing found, kept by name ----------------------------------------------


def test_a_flow_whose_error_is_a_dict_is_skipped_with_a_warning(tmp_path):
    states = flow_states()
    states[2]["error"] = {"msg": {"nested": b"dict"}, "timestamp": 1.0}
    path = tmp_path / "error-dict.mitm"
    path.write_bytes(b"".join(map(tnetstring.dumps, states)))
    warnings: list[str] = []
    session = load(path, warnings.append)
    assert len(session) == 2 and len(warnings) == 1
    assert "flow 3 skipped" in warnings[0] and "$.error.msg" in warnings[0]


def test_a_flow_whose_path_is_not_utf8_reads_and_writes(tmp_path):
    """mitmproxy makes such bytes surrogate escapes, which no writer could encode."""
    states = flow_states()
    states[1]["request"]["path"] = b"/graph\xffql"
    path = tmp_path / "latin1-path.mitm"
    path.write_bytes(b"".join(map(tnetstring.dumps, states)))
    survives(path.read_bytes(), "latin1-path.mitm")
    assert [h.url for h in load(path)][1] == "ws://127.0.0.1:8080/graph\ufffdql"


def test_a_har_we_write_for_odd_but_valid_times_reads_back(tmp_path):
    """Started in 1970 (a flow file said 12.5), answered now: 56 years of waiting, in ms."""
    session = load(FIXTURES / "chrome.har")
    first = next(iter(session))
    first.started, first.answered = 12.5, 1_795_166_042.0
    path = tmp_path / "odd.har"
    save(session, path)
    assert len(load(path)) == len(session)


def test_a_start_in_the_year_ten_to_the_292_is_skipped(tmp_path):
    document = native_seed()
    document["handshakes"][0]["started"] = 1e300
    path = tmp_path / "far-future.json"
    path.write_text(json.dumps(document))
    warnings: list[str] = []
    session = load(path, warnings.append)
    assert len(session) == 2
    assert warnings == [
        f"{path}: handshake 1 skipped: Expected `float` <= 4102444800.0 - at `$.started`"
    ]
    survives(path.read_bytes(), "far-future.json")


# -- special files and whole-file failures, as a user meets them ---------------------------------


def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.har"
    os.mkfifo(path)
    return path


def zero_link(tmp_path: Path) -> Path:
    path = tmp_path / "zero.har"
    path.symlink_to("/dev/zero")
    return path


def all_damaged(tmp_path: Path) -> Path:
    document = har_seed()
    for entry in document["log"]["entries"]:
        entry["startedDateTime"] = {"not": "a date"}
        entry["_resourceType"] = "websocket"
    path = tmp_path / "all-damaged.har"
    path.write_text(json.dumps(document))
    return path


def crafted_flow(tmp_path: Path) -> Path:
    states = flow_states()
    states[0]["error"] = {"msg": {"a": 1}, "timestamp": 1e300}
    states[1]["request"]["timestamp_start"] = math.nan
    states[2]["websocket"] = {"messages": [[99, "x", {}, -1]]}
    path = tmp_path / "crafted.mitm"
    path.write_bytes(b"".join(map(tnetstring.dumps, states)))
    return path


def far_future(tmp_path: Path) -> Path:
    document = native_seed()
    for handshake in document["handshakes"]:
        handshake["started"] = 1e300
    path = tmp_path / "far-future.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    "make, words",
    [
        (fifo, "is a pipe, not a session file"),
        (zero_link, "is a device, not a session file"),
        (all_damaged, "no entry could be read: 4 skipped as damaged"),
        (crafted_flow, "no entry could be read: 3 skipped as damaged"),
        (far_future, "no entry could be read: 3 skipped as damaged"),
    ],
)
def test_diagnose_refuses_crafted_files_in_one_line_and_exit_2(tmp_path, make, words):
    path = make(tmp_path)
    result = wsinspect("diagnose", str(path))
    assert "Traceback" not in result.stderr
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if "warning:" not in line]
    assert errors == [f"wsinspect: {path}: {words}"]
    assert result.stdout == ""  # no report of nothing


def test_a_fifo_is_refused_at_once_by_export_and_open(tmp_path):
    """Without the check, reading a FIFO nobody writes to blocks forever."""
    path = fifo(tmp_path)
    for command in (["export", str(path), "-o", str(tmp_path / "out.har")], ["open", str(path)]):
        result = wsinspect(*command)
        assert result.returncode == 2
        assert result.stderr == f"wsinspect: {path}: is a pipe, not a session file\n"


def wsinspect(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the command as a user does; killed after 20 s (a FIFO read blocks forever)."""
    command = [sys.executable, "-m", "wsinspect", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
