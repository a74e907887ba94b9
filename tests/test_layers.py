"""Imports go one way: a module may import its own layer and the layers below, never one above.

The layers, bottom to top, and why each sits where it does:

0. the model: ``model`` (the captured records, plain data), ``text`` and the package itself.
1. ``diagnose``: a pure function of the model; no I/O, so it runs anywhere, a file read or a
   capture alike.
2. ``sessions.redact``: the one redaction policy, a function of the model as well (data in, a
   redacted copy out). It sits below everything that shows or writes a handshake: the probe, the
   report, the files, the screen.
3. ``capture``: mitmproxy's traffic -> the model (the recorder, frames, the proxy, the split-mode
   feed's socket ends, and ``capture.service``, the one way to wire a capture). It knows nothing
   of files or reports.
4. ``probe``: the handshake sent again in variants.
5. ``report``: diagnosed handshakes and probe results as text, Markdown and JSON.
6. ``sessions``: files. Above capture, because a mitmproxy flow file is read by replaying its
   flows through the capture's own recorder (one conversion, not two); above report, because one
   of the formats written is the Markdown report.
7. the programs: ``record``, ``tui``, ``split_mode`` (and its ``mitmproxy_script``), ``demo``,
   ``browser``: each wires a capture to its sinks and its files.
8. ``cli`` and ``__main__``: the commands, over all of it.

Every import counts: at the top, inside a function, under ``TYPE_CHECKING``; moving an import
into a function does not make a wrong dependency right.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "wsinspect"

LAYERS: list[tuple[str, ...]] = [
    ("wsinspect", "wsinspect.model", "wsinspect.text"),
    ("wsinspect.diagnose",),
    ("wsinspect.sessions.redact",),
    ("wsinspect.capture",),
    ("wsinspect.probe",),
    ("wsinspect.report",),
    ("wsinspect.sessions",),
    (
        "wsinspect.record",
        "wsinspect.tui",
        "wsinspect.split_mode",
        "wsinspect.mitmproxy_script",
        "wsinspect.demo",
        "wsinspect.browser",
        "wsinspect.stack_choice",
    ),
    ("wsinspect.cli", "wsinspect.__main__"),
]


def layer_of(module: str) -> int | None:
    """The layer of the longest prefix naming ``module`` (a package names its modules too)."""
    matches = [
        (len(prefix), index)
        for index, prefixes in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    return max(matches)[1] if matches else None


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str, package: Path = PACKAGE) -> bool:
    place = package.parent.joinpath(*name.split("."))
    return place.with_suffix(".py").is_file() or place.is_dir()


def imported(path: Path, package: Path = PACKAGE) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports, wherever the import statement stands."""
    module = module_name(path, package)
    parent = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package, up
                anchor = parent.split(".")[: len(parent.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # ``from wsinspect import report`` imports a module; ``import __version__`` not
                name = f"{base}.{alias.name}"
                yield node.lineno, name if is_module(name, package) else base


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def violations(path: Path, package: Path = PACKAGE) -> list[str]:
    """Each import of ``path`` from a layer above its own, as a line naming it."""
    own = layer_of(module_name(path, package))
    found = []
    for line, name in sorted(set(imported(path, package))):
        theirs = layer_of(name)  # None: not ours (the standard library, mitmproxy…)
        if own is not None and theirs is not None and theirs > own:
            where = path.relative_to(package.parent)
            found.append(
                f"{where}:{line} imports {name} (layer {theirs}) from layer {own}: "
                "a lower layer must not import a higher one"
            )
    return found


def test_every_module_has_a_layer():
    unplaced = [module_name(path) for path in modules() if layer_of(module_name(path)) is None]
    assert not unplaced, f"add these to LAYERS in tests/test_layers.py: {unplaced}"


@pytest.mark.parametrize("path", modules(), ids=module_name)
def test_imports_go_down_only(path: Path):
    found = violations(path)
    assert not found, "\n".join(found)


def test_the_check_sees_imports_in_functions_and_type_checking_blocks(tmp_path):
    """The check itself: an upward import is one wherever it hides."""
    package = tmp_path / "wsinspect"
    for folder in ("capture", "sessions"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text('__version__ = "0"\n')
    (package / "report.py").write_text("")
    late = package / "capture" / "late.py"
    late.write_text(
        "from typing import TYPE_CHECKING\n"
        "from wsinspect import __version__\n"
        "if TYPE_CHECKING:\n"
        "    from wsinspect.report import markdown\n"
        "def save():\n"
        "    from wsinspect import sessions\n"
        "    from ..sessions import native\n"
        "    import wsinspect.report\n"
    )
    found = [line.split(" (")[0] for line in violations(late, package)]
    assert found == [
        "wsinspect/capture/late.py:4 imports wsinspect.report",
        "wsinspect/capture/late.py:6 imports wsinspect.sessions",
        "wsinspect/capture/late.py:7 imports wsinspect.sessions",
        "wsinspect/capture/late.py:8 imports wsinspect.report",
    ]
