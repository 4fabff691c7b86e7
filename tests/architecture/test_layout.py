"""The house rules, checked on the source: imports point one way, files stay readable, comments cite only the
repository's own documents."""
from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# (area, floor): a module may import modules of a lower floor, or of its own area.
AREAS = [
    ("main.train", ("scripts", 3)), ("main.test", ("scripts", 3)), ("demo", ("scripts", 3)),
    ("tools", ("tools", 3)),
    ("main.model", ("model", 1)), ("main.reference", ("model", 1)), ("main.networks", ("model", 1)),
    ("main", ("drivers", 2)),
    ("data", ("data", 1)),
    ("common", ("common", 0)),
]
PACKAGES = ("common", "data", "main", "demo", "tools")


def area(module: str) -> tuple[str, int] | None:
    """The (area, floor) of a dotted module name of this project, None for third-party modules."""
    for prefix, where in AREAS:
        if module == prefix or module.startswith(prefix + "."):
            return where
    return None


def source_files() -> list[Path]:
    """The project's Python sources outside tests/ (tracked or new, not ignored by git)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    return sorted(ROOT / p for p in listed if p.split("/")[0] in PACKAGES and (ROOT / p).is_file())


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module an ``import`` names, wherever it stands (functions and ``TYPE_CHECKING`` blocks included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names
                      if area(f"{node.module}.{alias.name}") != area(node.module)]
    return found


def wrong_way_imports(files: list[Path]) -> list[str]:
    wrong = []
    for path in files:
        src = area(module_name(path))
        for line, target in imported_modules(path):
            dst = area(target)
            if src is None or dst is None or dst[0] == src[0] or dst[1] < src[1]:
                continue
            wrong.append(f"{path.relative_to(ROOT)}:{line} ({src[0]}) imports {target} ({dst[0]})")
    return wrong


def test_imports_point_one_way():
    """entry scripts and tools -> drivers -> model and data -> common; nothing but tools/ imports tools/."""
    files = source_files()
    assert len(files) > 60
    assert wrong_way_imports(files) == []


def test_the_import_check_catches_a_wrong_arrow(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from main.trainer import Trainer\n"
                   "def f():\n    import tools.quickstart\n")
    for name, n_wrong in (("common/utils/bad.py", 2), ("data/bad.py", 2), ("main/model_bad.py", 1),
                          ("main/trainer_bad.py", 1), ("tools/bad.py", 0)):
        path = ROOT / name
        assert not path.exists()
        path.write_text(bad.read_text())
        try:
            assert len(wrong_way_imports([path])) == n_wrong, name
        finally:
            path.unlink()
    assert area("main.model") == ("model", 1) and area("main.predictor.run") == ("drivers", 2)


def test_no_source_file_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in source_files() if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}


# a document outside the repository: a section file named bare (not docs/...), the spec folder, a quirk number
EXTERNAL_CITATION = re.compile(
    r"(?<![\w/])(architecture|datasets|training|evaluation|preprocessing|demo|body_models|design)\.md"
    r"|\bspec/|\bquirk Q\d+|\(Q\d+\)|\bQ\d+\b(?=[,;:)\s])")


@pytest.mark.parametrize("folder", ["common", "data", "main", "demo", "tools", "tests"])
def test_no_comment_cites_a_document_outside_the_repository(folder):
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", folder], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    cited = []
    for name in listed:
        path = ROOT / name
        if path.suffix not in (".py", ".sh", ".md") or path == Path(__file__) or not path.is_file():
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if EXTERNAL_CITATION.search(line):
                cited.append(f"{name}:{n}: {line.strip()[:100]}")
    assert cited == []


def test_docs_links_resolve():
    """Every ``docs/<file>.md#anchor`` named in the code or the docs exists."""
    docs = {p.name: p.read_text() for p in (ROOT / "docs").glob("*.md")}
    anchors = {name: set(re.findall(r'<a id="([^"]+)"></a>', text)) | {
        re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", text, re.M)}
        for name, text in docs.items()}
    texts = [p.read_text() for p in source_files()] + list(docs.values())
    missing = set()
    for text in texts:
        for name, anchor in re.findall(r"docs/([\w\-]+\.md)(?:#([\w\-]+))?", text):
            if name not in docs or (anchor and anchor not in anchors[name]):
                missing.add(f"docs/{name}#{anchor}")
    assert missing == set()
