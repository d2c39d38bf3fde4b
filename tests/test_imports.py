"""Imports run downwards: every gennie module imports only its own layer or lower ones.

The layer table below is the one place the package's layering is written down. Each
module of ``src/gennie`` is read with :mod:`ast` (nothing is imported); every ``import
x`` and ``from x import y``, at module level or inside a function, relative ones
resolved, is checked against it. A stage package never imports another stage package.
Imports under ``if TYPE_CHECKING:`` are annotations only, never run, and not checked.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "gennie"

LAYERS: dict[str, int] = {
    "version": 0,
    "errors": 0,
    "processes": 0,
    "progress": 0,
    "io": 1,
    "encode": 2,
    "config": 3,
    "runs": 4,
    "dataset": 5,
    "model": 6,
    "scoring": 7,
    "attribution": 7,
    "preprocessing": 8,
    "training": 8,
    "evaluation": 8,
    "prediction": 8,
    "variant_effects": 8,
    "interpret": 8,
    "search": 9,
    "jobs": 10,
    "quickstart": 10,
    "example": 10,
    "cli": 11,
    "gui": 11,
    "__main__": 11,
}
"""Layer of each top-level module or package of gennie (lower layers come first)."""

ROOT_LAYER = max(LAYERS.values()) + 1
"""``gennie/__init__.py`` sits on top of everything."""

STAGE_LAYER = 8
"""In this layer, a package may not import another package of the same layer."""

ALLOWED: set[tuple[str, str]] = {("search", "training")}
"""Upward or sideways edges that are part of the design: tune trains models."""


def module_name(path: Path, root: Path = SOURCE) -> str:
    """``gennie.training.stage`` for ``src/gennie/training/stage.py``."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def top_part(module: str) -> str | None:
    """The top-level part of a gennie module (``training`` for ``gennie.training.x``);
    ``""`` for the root package itself; None outside gennie."""
    parts = module.split(".")
    if parts[0] != "gennie":
        return None
    return parts[1] if len(parts) > 1 else ""


def is_module(name: str, root: Path = SOURCE) -> bool:
    """Whether ``gennie.a.b`` is a module or package of the source tree."""
    base = root.parent.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skipped |= {id(n) for n in ast.walk(inner)}
    return skipped


def imported_modules(path: Path, root: Path = SOURCE) -> list[tuple[int, str]]:
    """Every module an import statement of a file names, with its line.

    ``from p import name`` counts as an import of ``p.name`` when that is a module
    (``from gennie import training``), else of ``p``.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    own = module_name(path, root)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    skipped = _type_checking_only(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                found.append((node.lineno, candidate if is_module(candidate, root) else source))
    return found


def layer_of(part: str) -> int:
    return ROOT_LAYER if part == "" else LAYERS[part]


def offences(path: Path, root: Path = SOURCE) -> list[str]:
    """The imports of one file that break the layering, as ``file:line`` lines."""
    here = top_part(module_name(path, root))
    assert here is not None
    where = path.relative_to(root.parent)
    bad = []
    for line, target in imported_modules(path, root):
        there = top_part(target)
        if there is None or there == here or (here, there) in ALLOWED:
            continue
        if there not in LAYERS and there != "":
            bad.append(f"{where}:{line} imports {target}, which has no layer in the table")
            continue
        upward = layer_of(there) > layer_of(here)
        sideways = layer_of(there) == layer_of(here) == STAGE_LAYER
        if upward or sideways:
            kind = "another stage" if sideways else "a higher layer"
            bad.append(f"{where}:{line} imports {target} ({kind}: {there or 'gennie'})")
    return bad


def source_files() -> list[Path]:
    return sorted(SOURCE.rglob("*.py"))


def test_every_top_level_module_has_a_layer() -> None:
    parts = {top_part(module_name(p)) for p in source_files()} - {""}
    assert sorted(parts - set(LAYERS)) == []


def test_imports_only_go_downwards() -> None:
    bad = [line for path in source_files() for line in offences(path)]
    assert not bad, "imports of higher layers or other stages:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("here", "code", "expected"),
    [
        ("dataset/store.py", "from gennie.model import bundle\n", 1),
        ("dataset/store.py", "def f():\n    from ..model.bundle import BundleSpec\n", 1),
        ("dataset/store.py", "import gennie.training.stage\n", 1),
        ("evaluation/stage.py", "from gennie.prediction.stage import predict\n", 1),
        ("evaluation/stage.py", "from . import stage\n", 0),
        ("evaluation/stage.py", "from gennie.scoring.metrics import headline_metrics\n", 0),
        ("search/tuning.py", "from gennie.training.stage import train\n", 0),
        ("search/tuning.py", "from gennie.cli import main\n", 1),
        ("model/summary.py", "from gennie import train\n", 1),
        ("encode/base.py", "if TYPE_CHECKING:\n    from gennie.config import TrainConfig\n", 0),
    ],
)
def test_offences_are_found(tmp_path: Path, here: str, code: str, expected: int) -> None:
    """The checker itself: relative and function-level imports, root and stage edges."""
    fake = tmp_path / "gennie"
    for path in source_files():
        target = fake / path.relative_to(SOURCE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    (fake / here).write_text(code)
    assert len(offences(fake / here, fake)) == expected
