"""The package as a whole: no import cycle (imports inside functions included), modules of a
readable size, and the modules Snakemake's main process imports stay free of torch."""

from __future__ import annotations

import subprocess
import sys

from package_graph import MODULES, find_cycle, imports_of

#: Lines a module may have; a module that needs more is split.
MAX_LINES = 500


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_relative_imports_resolve_to_modules():
    assert "dmlstudy.params" in imports_of("dmlstudy.sweeps")
    assert "dmlstudy.backbones.base" in imports_of("dmlstudy.backbones.hf_vit")
    assert "dmlstudy.sources.synthetic" in imports_of("dmlstudy.sources")


def test_no_import_cycle_in_the_package():
    graph = {m: imports_of(m) for m in MODULES}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_modules_stay_readable():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them): {long}"


def test_what_snakemakes_main_process_imports_has_no_torch():
    """common.smk validates the config and derives params from these modules at every
    `snakemake` start: importing torch there would cost seconds per start."""
    code = (
        "import sys\n"
        "import dmlstudy.config, dmlstudy.params, dmlstudy.sweeps, dmlstudy.losses\n"
        "import dmlstudy.sampling, dmlstudy.sources, dmlstudy.backbones, dmlstudy.paper_settings\n"
        "print(sorted(m for m in ('torch', 'pandas', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
