"""The package layout is a rule, not a wish: data flows one way and no module imports upward.

Layers, lowest first (docs/ARCHITECTURE.md explains each). A module may import its own package
and any lower layer, never a higher one. The pure layers also may not reach the store, the
database driver or other processes: they compute on values they are given.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "patchlens"

LAYERS: tuple[str, ...] = (
    "store",  # the bottom: engine, schema, migrations, generic writers, the store's codec
    "mail",  # pure parsers of one message or diff
    "sources",  # every reader (mbox, Maildir, public-inbox, git); may decode with mail/
    "identity",  # people, bots, mailmaps, organisations, MAINTAINERS
    "review",  # threads, versions, series, replies
    "match",  # postings to commits
    "metrics",  # durations, counts, states, distributions
    "config",  # the project's settings file
    "queries",  # the one read model and its one filter type
    "stages",  # read-compute-write: ingest, analyse, review, match, metrics, the pipeline
    "web",  # thin views over queries/
    "api",  # the Python read API (`patchlens.open`): thin over queries/
    "cli",  # thin over stages/ and queries/
    "__main__",
)
PURE = ("mail", "identity", "review", "match", "metrics")
IMPURE_IMPORTS = ("sqlalchemy", "subprocess", "patchlens.store", "patchlens.sources")
ANYWHERE = ("patchlens",)  # the package root: its version


def layer_of(module: str) -> str:
    """'patchlens.stages.ingest' -> 'stages'; 'patchlens.cli' -> 'cli'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, those inside functions too. For
    `from patchlens.x import y`, y counts when it is a module of its own."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                sub = f"{target}.{a.name}"
                as_path = PACKAGE.parent / sub.replace(".", "/")
                if as_path.with_suffix(".py").is_file() or (as_path / "__init__.py").is_file():
                    out.append((node.lineno, sub))
                else:
                    out.append((node.lineno, target))
    return out


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def violations(files: list[Path]) -> list[str]:
    found: list[str] = []
    for path in files:
        module = module_name(path)
        own = layer_of(module)
        if module == "patchlens":
            continue
        if own not in LAYERS:
            found.append(f"{module}: in no layer; add its package to LAYERS and ARCHITECTURE.md")
            continue
        rank = LAYERS.index(own)
        for line, target in imports_of(path):
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if own in PURE and any(
                target == bad or target.startswith(bad + ".") for bad in IMPURE_IMPORTS
            ):
                found.append(f"{where}: pure layer {own!r} imports {target}")
            if not target.startswith("patchlens") or target in ANYWHERE:
                continue
            theirs = layer_of(target)
            if theirs not in LAYERS:
                found.append(f"{where}: imports {target}, which is in no layer")
            elif LAYERS.index(theirs) > rank:
                found.append(f"{where}: {own!r} imports upward: {target} ({theirs!r})")
    return found


def test_no_module_imports_upward() -> None:
    files = sources()
    assert len(files) > 50, f"found only {len(files)} modules under {PACKAGE}"
    problems = violations(files)
    assert not problems, "layer rule broken:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("layer", "source", "expected"),
    [
        ("store", "from patchlens.mail.parse import parse_message\n", "imports upward"),
        ("mail", "from patchlens.review import model\n", "imports upward"),
        ("metrics", "import sqlalchemy\n", "pure layer"),
        ("review", "from patchlens.store import schema\n", "pure layer"),
        ("queries", "from patchlens.stages.pipeline import run_stages\n", "imports upward"),
        ("web", "from patchlens.cli import app\n", "imports upward"),
    ],
)
def test_the_rule_catches_upward_imports(
    layer: str, source: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check itself can fail: an upward import planted in a copy of a layer is reported."""
    fake_root = tmp_path / "patchlens"
    (fake_root / layer).mkdir(parents=True)
    for pkg in LAYERS:
        real = PACKAGE / pkg
        if real.is_dir():
            (fake_root / pkg).mkdir(exist_ok=True)
            (fake_root / pkg / "__init__.py").write_text("")
        else:
            (fake_root / f"{pkg}.py").write_text("")
    for mod in ("mail/parse.py", "review/model.py", "store/schema.py", "stages/pipeline.py"):
        (fake_root / mod).write_text("")
    planted = fake_root / layer / "planted.py"
    planted.write_text(source)
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", fake_root)
    problems = violations([planted])
    assert problems and expected in problems[0], problems


def test_every_layer_exists() -> None:
    for layer in LAYERS:
        assert (PACKAGE / layer).is_dir() or (PACKAGE / f"{layer}.py").is_file(), layer


ARCHITECTURE = PACKAGE.parents[1] / "docs" / "ARCHITECTURE.md"
_MENTION = re.compile(r"`((?:[a-z_]+/)*[a-z_]+\.py)`")


def test_architecture_page_matches_the_tree() -> None:
    """docs/ARCHITECTURE.md names every module of the package, and every module it names
    exists: a move that forgets the page fails here."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    mentioned = set(_MENTION.findall(text))
    modules = {
        str(p.relative_to(PACKAGE))
        for p in sources()
        if p.name not in ("__init__.py", "__main__.py")
    }
    missing = sorted(modules - mentioned)
    assert not missing, f"modules not described in docs/ARCHITECTURE.md: {missing}"
    root = PACKAGE.parents[1]
    stale = sorted(m for m in mentioned if not (PACKAGE / m).exists() and not (root / m).exists())
    assert not stale, f"docs/ARCHITECTURE.md names modules that do not exist: {stale}"
    for layer in LAYERS:
        if layer != "__main__":
            assert f"{layer}/" in text or f"{layer}.py" in text, layer
