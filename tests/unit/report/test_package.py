"""The reporting package imports without torch and never reads a data source (cycles and
module sizes: tests/unit/test_package.py)."""

import os
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
    # the package under test, not whichever copy the interpreter has installed
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parents[1])}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "False"


def test_report_never_imports_the_sources():
    """Tables and figures know a dataset only by what the rule passes them."""
    from package_graph import imports_of

    for m in MODULES:
        assert not {
            i for i in imports_of(f"dmlstudy.report.{m}") if i.startswith("dmlstudy.sources")
        }, m
