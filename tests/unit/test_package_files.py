"""workflow/package-files.txt lists every file that a workflow used from a git URL copies out
of Snakemake's source cache (workflow/rules/package.smk): the whole package under src/, the
file a symbolic link in it points to, and the sacct shim. A file added to src/dmlstudy and
not listed would be missing from such a deployment, so the list must match the tree.

On a mismatch, ``DMLSTUDY_WRITE_PACKAGE_FILES=1 python -m pytest tests/unit/test_package_files.py``
rewrites the list from the tree.
"""

from __future__ import annotations

import os

from conftest import REPO

MANIFEST = REPO / "workflow" / "package-files.txt"
HEADER = """\
# Files a workflow used from a git URL copies out of Snakemake's source cache into
# .snakemake/dmlstudy-workflow/<hash>/ (workflow/rules/package.smk), paths relative to the
# repository root: `file PATH`, `exec PATH` (made executable), `link PATH TARGET`.
# Kept in step with src/ by tests/unit/test_package_files.py (which also rewrites it:
# DMLSTUDY_WRITE_PACKAGE_FILES=1 python -m pytest tests/unit/test_package_files.py).
"""
SHIMS = ["workflow/slurm/sacct"]


def expected_entries() -> list[str]:
    """The manifest's entries for the tree as it is now."""
    entries, targets = [], []
    package = REPO / "src" / "dmlstudy"
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(REPO).as_posix()
        if "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        if path.is_symlink():
            target = os.readlink(path)
            entries.append(f"link {rel} {target}")
            targets.append((path.parent / target).resolve().relative_to(REPO).as_posix())
        elif path.is_file():
            entries.append(f"file {rel}")
    entries += [f"file {t}" for t in targets]
    entries += [f"exec {s}" for s in SHIMS]
    return entries


def manifest_entries() -> list[str]:
    lines = MANIFEST.read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_manifest_lists_every_file_of_the_package():
    expected = expected_entries()
    if os.environ.get("DMLSTUDY_WRITE_PACKAGE_FILES") == "1":
        MANIFEST.write_text(HEADER + "\n".join(expected) + "\n")
    assert manifest_entries() == expected, (
        "workflow/package-files.txt is out of step with src/dmlstudy; rewrite it with "
        "DMLSTUDY_WRITE_PACKAGE_FILES=1 python -m pytest tests/unit/test_package_files.py"
    )


def test_listed_files_are_text_inside_the_repository():
    """The source cache reads git blobs as text: every listed file must be UTF-8, and every
    link must point to a listed file inside the repository."""
    for entry in manifest_entries():
        kind, path, *target = entry.split()
        assert kind in {"file", "exec", "link"}, entry
        full = REPO / path
        if kind == "link":
            assert full.is_symlink(), entry
            resolved = (full.parent / target[0]).resolve()
            assert resolved.is_relative_to(REPO) and resolved.is_file(), entry
            assert f"file {resolved.relative_to(REPO).as_posix()}" in manifest_entries(), entry
        else:
            assert full.is_file() and not full.is_symlink(), entry
            full.read_bytes().decode("utf-8")  # raises on a binary file
        if kind == "exec":
            assert os.access(full, os.X_OK), entry
