"""The reporting package imports without torch, without cycles, in modules of a readable size."""

import ast
import subprocess
import sys
from pathlib import Path

import dmlstudy.report

PACKAGE = Path(dmlstudy.report.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def test_no_module_imports_torch():
    code = (
        "import sys\n"
        + "".join(f"import dmlstudy.report.{m}\n" for m in MODULES)
        + "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.add(node.module.split(".")[0] if node.module else "")
    return found & set(MODULES)


def test_no_import_cycle():
    graph = {m: _imports(m) for m in MODULES}

    def visit(m, path):
        assert m not in path, " -> ".join([*path, m])
        for n in graph[m]:
            visit(n, [*path, m])

    for m in MODULES:
        visit(m, [])


def test_modules_stay_small_and_import_no_sources():
    for m in MODULES:
        text = (PACKAGE / f"{m}.py").read_text()
        assert len(text.splitlines()) <= 500, m
        assert "sources" not in {n for n in _imports(m)} and "from ..sources" not in text
